// Kernels for this area are added here; assembly/index.ts re-exports them.
