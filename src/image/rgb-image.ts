/** A decoded image: 8-bit RGB, row-major, top row first. */
export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3 bytes, R G B per pixel */
  data: Uint8Array;
}

/** Images larger than this are refused before decoding (a header can claim any size). */
export const MAX_IMAGE_PIXELS = 1 << 26;
