import '../dist/scripts/check-kernels.js';
