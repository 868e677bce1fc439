import '../dist/scripts/bench-kernels.js';
