import '../dist/scripts/unpack-fixtures.js';
