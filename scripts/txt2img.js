import '../dist/scripts/txt2img.js';
