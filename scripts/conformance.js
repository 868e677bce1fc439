import '../dist/scripts/conformance.js';
