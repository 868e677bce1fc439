import '../dist/scripts/bench-pipeline.js';
