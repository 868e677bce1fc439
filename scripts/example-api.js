import '../dist/scripts/example-api.js';
