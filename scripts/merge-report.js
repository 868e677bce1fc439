import '../dist/scripts/merge-report.js';
