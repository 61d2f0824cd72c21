// The register-tiled GEMM body shared by MatMul/Gemm and the implicit-GEMM conv: a 16x16
// workgroup computes a (16T)x(16T) tile of the output, each invocation a TxT block held in
// registers, over 16-deep slices of A and B staged in workgroup memory. T = 8 (128x128 tiles)
// for large outputs, T = 4 (64x64) where a large tile would be mostly empty.
//
// Each invocation fetches its share of the next slice from global memory into registers before
// it computes on the current one (the loads' latency hides behind the multiply-adds: a batch-1
// layer has few workgroups per SM, and waited for every slice), and an operand that is
// contiguous in fours along its fast axis is read as vec4s (a quarter of the loads and index
// arithmetic), and the tiles' rows in workgroup memory are padded against bank conflicts. None
// changes what is summed or in which order (bench/RESULTS.md, "WebGPU tile loads": on an H200
// 0.74-0.93x the GPU time before, by layer and model).

/** Workgroup-tile edge for tile parameter T. */
export const tileEdge = (t: 4 | 8): number => 16 * t;

const env = (name: string): string | undefined => (typeof process !== 'undefined' ? process.env?.[name] : undefined);
/** vec4 tile loads where the operand allows them (env NNPORT_WEBGPU_VEC4=0 turns them off: A/B runs). */
export const TILE_VEC4 = env('NNPORT_WEBGPU_VEC4') !== '0';
/** The next slice fetched while the current one is summed (env NNPORT_WEBGPU_PREFETCH=0 turns it off: A/B runs). */
const TILE_PREFETCH = env('NNPORT_WEBGPU_PREFETCH') !== '0';
/**
 * Workgroup-memory rows of a tile padded by one vec4, so that the k-fast loads' stores (16 or 4
 * invocations writing one column) fall into different banks (env NNPORT_WEBGPU_TILE_PAD=0: unpadded).
 */
const TILE_PAD = env('NNPORT_WEBGPU_TILE_PAD') === '0' ? 0 : 1;
/**
 * k depth of a slice staged in workgroup memory (env NNPORT_WEBGPU_TILE_K=32: half the barriers,
 * twice the memory; mixed on an H200, MatMul 1024³ -11 % but 4096³ +14 %, so not the default).
 */
const TILE_K = env('NNPORT_WEBGPU_TILE_K') === '32' ? 32 : 16;

/** How a tile of parameter T sits in workgroup memory: slice depth and row padding (vec4s). */
export interface TileLayout {
  bk: 16 | 32;
  pad: 0 | 1;
}

/**
 * The layout for T within `maxShared` bytes of workgroup memory (the device's limit: WebGPU's
 * default is 16 KiB, which a padded 128-wide tile exceeds): padding goes first, then depth.
 */
export function tileLayout(t: 4 | 8, maxShared: number): TileLayout {
  const bytes = (bk: number, pad: number): number => 2 * (4 * t + pad) * bk * 16;
  let bk: 16 | 32 = TILE_K === 32 ? 32 : 16;
  let pad: 0 | 1 = TILE_PAD ? 1 : 0;
  if (bytes(bk, pad) > maxShared) pad = 0;
  if (bytes(bk, pad) > maxShared) {
    bk = 16;
    pad = TILE_PAD && bytes(16, 1) <= maxShared ? 1 : 0;
  }
  return { bk, pad };
}

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

/**
 * Whether an operand can be loaded as vec4s along its fast axis: that axis's extent, the other
 * axis's stride and every batch offset are multiples of 4 (so a vec4 is wholly in range or
 * wholly out, and aligned). `offsets` holds words [stride 4 apart from `first`].
 */
export function vec4Operand(extent: number, otherStride: number, offsets?: Uint32Array, first = 0): boolean {
  if (!TILE_VEC4 || extent % 4 !== 0 || otherStride % 4 !== 0) return false;
  if (offsets) for (let i = first; i < offsets.length; i += 4) if (offsets[i]! % 4 !== 0) return false;
  return true;
}

export interface TiledSpec {
  t: 4 | 8;
  layout: TileLayout;
  /** WGSL statements defining `v` = A[gm][gk] (gm < M and gk < K are checked before) */
  loadA: string;
  /** WGSL statements defining `w` = B[gk][gn] */
  loadB: string;
  /**
   * vec4 loads (vec4Operand): WGSL defining `v4` = A[gm][gk..gk+3] (aKFast) or A[gm..gm+3][gk],
   * and `w4` = B[gkb][gn..gn+3] (bNFast) or B[gkb..gkb+3][gn]; undefined: scalar loads
   */
  loadA4?: string;
  loadB4?: string;
  /** which index varies fastest across invocations when loading: true = k for A, n for B */
  aKFast: boolean;
  bNFast: boolean;
  /** WGSL statements storing `acc` value `s` at row `r`, column `c` (both in range) */
  store: string;
  /** WGSL before the k loop: let M, N, kBegin, kEnd (the k range this workgroup sums) and what the loaders use */
  prologue: string;
}

const COMP = ['x', 'y', 'z', 'w'];

/**
 * One operand's share of a slice: registers, their fetch from global memory (slice at `kf`)
 * and their stash into workgroup memory. A: rows m (bound M), tile As; B: columns n (bound N),
 * tile Bs; both [k][m or n] in vec4s of m or n.
 */
function operand(E: number, { bk: BK, pad }: TileLayout, a: boolean, load: string, load4: string | undefined, kFast: boolean): { regs: string[]; fetch: string[]; stash: string[] } {
  const [p, mn, k, bound, base, tile, val] = a ? ['ra', 'm', 'gk', 'M', 'row0', 'As', 'v'] : ['rb', 'n', 'gkb', 'N', 'col0', 'Bs', 'w'];
  const g = a ? 'gm' : 'gn';
  const regs: string[] = [];
  const fetch: string[] = [];
  const stash: string[] = [];
  const row = E / 4 + pad; // vec4s per k row of the tile
  if (!load4) {
    for (let i = 0; i < (E * BK) / 256; i++) {
      const dec = kFast ? `let kk = e % ${BK}u; let ${mn} = e / ${BK}u;` : `let ${mn} = e % ${E}u; let kk = e / ${E}u;`;
      regs.push(`  var ${p}${i}: f32;`);
      fetch.push(`    { let e = tid + ${i * 256}u; ${dec} let ${g} = ${base} + ${mn}; let ${k} = kf + kk; var ${val} = 0.0; if (${g} < ${bound} && ${k} < kEnd) { ${load} } ${p}${i} = ${val}; }`);
      stash.push(`    { let e = tid + ${i * 256}u; ${dec} ${tile}[kk * ${row}u + ${mn} / 4u][${mn} % 4u] = ${p}${i}; }`);
    }
    return { regs, fetch, stash };
  }
  for (let i = 0; i < (E * BK) / 4 / 256; i++) {
    regs.push(`  var ${p}${i}: vec4<f32>;`);
    if (kFast) {
      // four k of one row: four rows of the tile
      const dec = `let kq = e % ${BK / 4}u; let ${mn} = e / ${BK / 4}u;`;
      fetch.push(`    { let e = tid + ${i * 256}u; ${dec} let ${g} = ${base} + ${mn}; let ${k} = kf + kq * 4u; var ${val}4 = vec4<f32>(); if (${g} < ${bound} && ${k} < kEnd) { ${load4} } ${p}${i} = ${val}4; }`);
      stash.push(`    { let e = tid + ${i * 256}u; ${dec} ${COMP.map((c, j) => `${tile}[(kq * 4u + ${j}u) * ${row}u + ${mn} / 4u][${mn} % 4u] = ${p}${i}.${c};`).join(' ')} }`);
    } else {
      // four m (n) of one k: one vec4 of the tile
      const dec = `let q = e % ${E / 4}u; let kk = e / ${E / 4}u;`;
      fetch.push(`    { let e = tid + ${i * 256}u; ${dec} let ${g} = ${base} + q * 4u; let ${k} = kf + kk; var ${val}4 = vec4<f32>(); if (${g} < ${bound} && ${k} < kEnd) { ${load4} } ${p}${i} = ${val}4; }`);
      stash.push(`    { let e = tid + ${i * 256}u; ${dec} ${tile}[kk * ${row}u + q] = ${p}${i}; }`);
    }
  }
  return { regs, fetch, stash };
}

/** The compute entry point `main` of a tiled GEMM (bindings and params are declared by the caller). */
export function tiledMain(s: TiledSpec): string {
  const T = s.t;
  const E = 16 * T; // tile edge
  const V = T / 4; // vec4s per invocation row
  const BK = s.layout.bk;
  const row = E / 4 + s.layout.pad;
  const lines: string[] = [];
  for (let iv = 0; iv < V; iv++) lines.push(`    let a${iv} = As[kk * ${row}u + lid.y * ${V}u + ${iv}u];`);
  for (let jv = 0; jv < V; jv++) lines.push(`    let b${jv} = Bs[kk * ${row}u + lid.x * ${V}u + ${jv}u];`);
  for (let i = 0; i < T; i++) {
    for (let jv = 0; jv < V; jv++) {
      const a = `a${Math.floor(i / 4)}.${COMP[i % 4]}`;
      lines.push(`    acc[${i * V + jv}] = fma(vec4<f32>(${a}), b${jv}, acc[${i * V + jv}]);`);
    }
  }
  const A = operand(E, s.layout, true, s.loadA, s.loadA4, s.aKFast);
  const B = operand(E, s.layout, false, s.loadB, s.loadB4, !s.bNFast);
  const fetch = [...A.fetch, ...B.fetch].join('\n');
  const stash = [...A.stash, ...B.stash].join('\n');
  const slice = TILE_PREFETCH
    ? `  { let kf = kBegin;
${fetch}
  }
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + ${BK}u) {
${stash}
    workgroupBarrier();
    let kf = k0 + ${BK}u;
    if (kf < kEnd) {
${fetch}
    }`
    : `  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + ${BK}u) {
    let kf = k0;
${fetch}
${stash}
    workgroupBarrier();`;
  return `
var<workgroup> As: array<vec4<f32>, ${row * BK}>; // [k][m / 4], rows of ${row}
var<workgroup> Bs: array<vec4<f32>, ${row * BK}>; // [k][n / 4]
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
${s.prologue}
  let row0 = wg.y * ${E}u;
  let col0 = wg.x * ${E}u;
  let tid = lid.y * 16u + lid.x;
  var acc: array<vec4<f32>, ${T * V}>;
${A.regs.join('\n')}
${B.regs.join('\n')}
${slice}
    for (var kk = 0u; kk < ${BK}u; kk = kk + 1u) {
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
