// The exported ABI of the kernel module: named re-exports only (a helper exported between
// kernel files for their own use is not part of it). src/wasm/bindings.ts declares the same
// list with its signatures; test/unit/wasm/bindings.test.ts holds the two together.
export { heapBase } from './util/memory';
export { gemmMR, gemmNR, gemmScratchBytes, gemmPackA, gemmPackB, sgemmPacked } from './kernels/gemm';
export { conv2dGemm, depthwiseConv2d, col2imAdd } from './kernels/conv';
export { pool2d, globalPool } from './kernels/pool';
export { binaryF32, unaryF32, channelAffineF32 } from './kernels/elementwise';
export { softmaxRowsF32 } from './kernels/softmax';
export { sgemvPacked, sigmoidF32, tanhF32, lstmCellF32, gruCellF32, gruResetF32, gruUpdateF32 } from './kernels/recurrent';
export { permute, permuteStrided, setPermuteTuning } from './kernels/permute';
export { quantizeLinear, quantizePerAxis, dequantizeLinear, dequantizePerAxis } from './kernels/quantize';
export { float32ToFloat16, float16ToFloat32, float32ToBfloat16, bfloat16ToFloat32 } from './kernels/half';
export { minMax, minMaxPerAxis, channelStats, histogram } from './kernels/calibrate';
export { qconv2d, qconv1x1, qdepthwise } from './kernels/qconv';
export { qconv2d16, qdepthwise16 } from './kernels/qconv16';
export { qaddRef, qaddRef16, qaddXnnpack, qmul, qavgPool, qmaxPool, qmean } from './kernels/qelementwise';
export { qmul16, qavgPool16, qmean16, quantize16 } from './kernels/qelementwise16';
export { hessianAdd, hessianAddChannels, upperCholeskyOfInverse, gptqRound } from './kernels/gptq';
