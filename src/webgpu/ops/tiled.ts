// The register-tiled GEMM body shared by MatMul/Gemm and the implicit-GEMM conv: a 16x16
// workgroup computes a (16T)x(16T) tile of the output, each invocation a TxT block held in
// registers, over 16-deep slices of A and B staged in workgroup memory. T = 8 (128x128 tiles)
// for large outputs, T = 4 (64x64) where a large tile would be mostly empty.

/** Workgroup-tile edge for tile parameter T. */
export const tileEdge = (t: 4 | 8): number => 16 * t;

/**
 * Split-K: the number of slices of the k range (each a multiple of 16 deep, at least 128) that
 * gives an output of few tiles enough workgroups to fill a GPU (resnet18's last convs: 512 x 49
 * outputs over k = 4608 are 8 tiles of 64x64), and the depth of a slice. 1 = no split.
 */
export function chooseSplit(tiles: number, K: number, macs: number): { splits: number; depth: number } {
  // a small product is done sooner than a second dispatch starts
  if (macs < 1 << 20) return { splits: 1, depth: K };
  const want = Math.min(Math.ceil(SPLIT_TARGET / tiles), Math.floor(K / 128));
  if (want < 2) return { splits: 1, depth: K };
  const depth = Math.ceil(K / want / 16) * 16;
  return { splits: Math.ceil(K / depth), depth };
}

/** Workgroups a dispatch should have before split-K stops paying (an H100 has 132 SMs). */
const SPLIT_TARGET = 128;

/**
 * T for an output of M x N (per batch) and `batches` batches: big tiles only where there are
 * enough of them to keep a large GPU busy (a 1024x1024 output has 64: half an H100's SMs idle).
 */
export function chooseTile(M: number, N: number, batches: number): 4 | 8 {
  const tiles = Math.ceil(M / 128) * Math.ceil(N / 128) * batches;
  return M >= 128 && N >= 128 && tiles >= 256 ? 8 : 4;
}

export interface TiledSpec {
  t: 4 | 8;
  /** WGSL statements defining `v` = A[gm][gk] (gm < M and gk < K are checked before) */
  loadA: string;
  /** WGSL statements defining `w` = B[gk][gn] */
  loadB: string;
  /** which index varies fastest across invocations when loading: true = k for A, n for B */
  aKFast: boolean;
  bNFast: boolean;
  /** WGSL statements storing `acc` value `s` at row `r`, column `c` (both in range) */
  store: string;
  /** WGSL before the k loop: let M, N, kBegin, kEnd (the k range this workgroup sums) and what the loaders use */
  prologue: string;
}

/** The compute entry point `main` of a tiled GEMM (bindings and params are declared by the caller). */
export function tiledMain(s: TiledSpec): string {
  const T = s.t;
  const E = 16 * T; // tile edge
  const V = T / 4; // vec4s per invocation row
  const loads = (E * 16) / 256; // elements of each tile each invocation loads
  const lines: string[] = [];
  for (let iv = 0; iv < V; iv++) lines.push(`    let a${iv} = As[kk * ${E / 4}u + lid.y * ${V}u + ${iv}u];`);
  for (let jv = 0; jv < V; jv++) lines.push(`    let b${jv} = Bs[kk * ${E / 4}u + lid.x * ${V}u + ${jv}u];`);
  const comp = ['x', 'y', 'z', 'w'];
  for (let i = 0; i < T; i++) {
    for (let jv = 0; jv < V; jv++) {
      const a = `a${Math.floor(i / 4)}.${comp[i % 4]}`;
      lines.push(`    acc[${i * V + jv}] = fma(vec4<f32>(${a}), b${jv}, acc[${i * V + jv}]);`);
    }
  }
  return `
var<workgroup> As: array<vec4<f32>, ${(E * 16) / 4}>; // [k][m / 4]
var<workgroup> Bs: array<vec4<f32>, ${(E * 16) / 4}>; // [k][n / 4]
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
${s.prologue}
  let row0 = wg.y * ${E}u;
  let col0 = wg.x * ${E}u;
  let tid = lid.y * 16u + lid.x;
  var acc: array<vec4<f32>, ${T * V}>;
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + 16u) {
    for (var i = 0u; i < ${loads}u; i = i + 1u) {
      let e = tid + i * 256u;
      ${s.aKFast ? 'let kk = e % 16u; let m = e / 16u;' : `let m = e % ${E}u; let kk = e / ${E}u;`}
      let gm = row0 + m; let gk = k0 + kk;
      var v = 0.0;
      if (gm < M && gk < kEnd) { ${s.loadA} }
      As[kk * ${E / 4}u + m / 4u][m % 4u] = v;
      ${s.bNFast ? `let n = e % ${E}u; let kb = e / ${E}u;` : 'let kb = e % 16u; let n = e / 16u;'}
      let gn = col0 + n; let gkb = k0 + kb;
      var w = 0.0;
      if (gn < N && gkb < kEnd) { ${s.loadB} }
      Bs[kb * ${E / 4}u + n / 4u][n % 4u] = w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
${lines.join('\n')}
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${T}u; i = i + 1u) {
    let r = row0 + lid.y * ${T}u + i;
    if (r >= M) { break; }
    for (var j = 0u; j < ${T}u; j = j + 1u) {
      let c = col0 + lid.x * ${T}u + j;
      if (c >= N) { break; }
      let s = acc[i * ${V}u + j / 4u][j % 4u];
      ${s.store}
    }
  }
}`;
}
