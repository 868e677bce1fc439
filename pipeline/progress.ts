// Progress of loading and generation: the events the pipeline emits, and a reporter for scripts
// that draws a bar with the rate on a terminal and prints plain lines otherwise (logs, CI, pipes).

/** Which part of the work an event is about. */
export type ProgressStage = 'load' | 'text' | 'denoise' | 'decode';

export interface Progress {
  readonly stage: ProgressStage;
  /**
   * Work done so far, out of total. 'load': bytes of weights uploaded; 'denoise': U-Net
   * evaluations the GPU has finished (PLMS runs steps + 1); 'text' and 'decode': 0 at the start, 1
   * at the end.
   */
  readonly step: number;
  readonly total: number;
}

export type ProgressCallback = (p: Progress) => void;

export interface ProgressReporterOptions {
  /** Where to write (default process.stderr). */
  readonly stream?: NodeJS.WriteStream;
  /** Draw a bar in place (default: when the stream is a TTY). */
  readonly interactive?: boolean;
  /** Plain mode: a line every this fraction of the stage (default 0.1), plus the first and last. */
  readonly lineEvery?: number;
}

const LABELS: Record<ProgressStage, string> = { load: 'loading', text: 'text', denoise: 'denoising', decode: 'decoding' };
const BAR_WIDTH = 28;

/**
 * Turns Progress events into a bar on a TTY ("denoising [#####....] 12/21 3.4 it/s 3.5 s") or
 * into occasional plain lines otherwise. Rates are measured between events of one stage.
 */
export class ProgressReporter {
  private readonly stream: NodeJS.WriteStream;
  private readonly interactive: boolean;
  private readonly lineEvery: number;
  private stage: ProgressStage | null = null;
  private stageStart = 0;
  private firstStepAt = 0;
  private firstStep = 0;
  private lastLineStep = -1;
  private barOpen = false;

  constructor(options: ProgressReporterOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.interactive = options.interactive ?? Boolean(this.stream.isTTY);
    this.lineEvery = options.lineEvery ?? 0.1;
  }

  /** The callback to hand to load() or generate(). */
  readonly update: ProgressCallback = (p) => {
    const now = performance.now();
    if (p.stage !== this.stage) {
      this.endLine();
      this.stage = p.stage;
      this.stageStart = now;
      this.firstStepAt = now;
      this.firstStep = p.step;
      this.lastLineStep = -1;
    }
    // The rate counts from the first event of the stage, so set-up before the first step (shader
    // compilation, uploads) does not drag it down.
    const rate = p.step > this.firstStep ? ((p.step - this.firstStep) * 1000) / (now - this.firstStepAt) : 0;
    const text = this.describe(p, rate, (now - this.stageStart) / 1000);
    if (this.interactive) {
      this.stream.write(`\r${text}\x1b[K`);
      this.barOpen = true;
      if (p.step >= p.total) this.endLine();
      return;
    }
    const every = Math.max(1, Math.round(p.total * this.lineEvery));
    const due = p.step >= p.total || this.lastLineStep < 0 || p.step - this.lastLineStep >= every;
    if (due && p.step !== this.lastLineStep) {
      this.stream.write(`${text}\n`);
      this.lastLineStep = p.step;
    }
  };

  /** Ends a bar left open (e.g. before printing an error). */
  endLine(): void {
    if (this.barOpen) {
      this.stream.write('\n');
      this.barOpen = false;
    }
  }

  private describe(p: Progress, rate: number, seconds: number): string {
    const label = LABELS[p.stage].padEnd(9);
    const fraction = p.total > 0 ? Math.min(1, p.step / p.total) : 1;
    const bar = this.interactive ? ` [${'#'.repeat(Math.round(fraction * BAR_WIDTH)).padEnd(BAR_WIDTH, '.')}]` : '';
    if (p.stage === 'load') {
      const mb = (b: number) => (b / 2 ** 20).toFixed(0);
      const speed = rate > 0 ? ` ${(rate / 2 ** 20).toFixed(0)} MiB/s` : '';
      return `${label}${bar} ${mb(p.step)}/${mb(p.total)} MiB${speed} ${seconds.toFixed(1)} s`;
    }
    if (p.stage === 'denoise') {
      const speed = rate > 0 ? ` ${rate >= 1 ? rate.toFixed(2) : (1 / rate).toFixed(2)} ${rate >= 1 ? 'it/s' : 's/it'}` : '';
      return `${label}${bar} ${p.step}/${p.total}${speed} ${seconds.toFixed(1)} s`;
    }
    return `${label}${bar} ${p.step >= p.total ? 'done' : '…'} ${seconds.toFixed(1)} s`;
  }
}
