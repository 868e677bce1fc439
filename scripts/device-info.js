import '../dist/scripts/device-info.js';
