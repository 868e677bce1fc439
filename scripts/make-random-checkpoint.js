import '../dist/scripts/make-random-checkpoint.js';
