/**
 * Textual loop unrolling for WGSL. Tint guards every loop with a 64-bit iteration counter, which
 * hides trip counts from GPU compilers: loops over register arrays then stay rolled, the arrays
 * index dynamically and land in local memory (measured on the H100: tiled GEMMs ran 10x slower).
 * Loops written as
 *
 *   for (var i = 0u; i < BOUND; i++) { // unroll
 *   for (var k = 0u; k < BOUND; k += STEP) { // unroll
 *
 * are replaced by one braced copy of their body per iteration with the loop variable as a literal,
 * so array indices become constants. BOUND and STEP are integer expressions of numbers, the given
 * constants and the source's own `const NAME: u32 = ...;` declarations; `rolled(x)` counts as x.
 */
export function unrollLoops(source: string, consts: Readonly<Record<string, number | boolean | object>>): string {
  const values = new Map<string, number>();
  for (const [k, v] of Object.entries(consts)) if (typeof v === 'number') values.set(k, v);
  const declared = new Map<string, string>();
  for (const m of source.matchAll(/const\s+(\w+)\s*:\s*u32\s*=\s*([^;]+);/g)) declared.set(m[1]!, m[2]!);
  const lookup = (name: string): number => {
    let v = values.get(name);
    if (v === undefined) {
      const expr = declared.get(name);
      if (expr === undefined) throw new Error(`unroll: unknown constant ${name}`);
      v = evaluate(expr, lookup);
      values.set(name, v);
    }
    return v;
  };
  return expand(source, lookup);
}

const HEAD = /for \(var (\w+) = 0u; \1 < ([^;]+); \1(\+\+|\s*\+=\s*([^)]+))\) \{ *\/\/ unroll *\n/;

function expand(source: string, lookup: (name: string) => number): string {
  let out = '';
  let rest = source;
  for (;;) {
    const m = HEAD.exec(rest);
    if (!m) return out + rest;
    const bodyStart = m.index + m[0].length;
    const bodyEnd = closingBrace(rest, bodyStart);
    const [, variable, boundExpr, , stepExpr] = m as unknown as [string, string, string, string, string | undefined];
    const bound = evaluate(boundExpr, lookup);
    const step = stepExpr === undefined ? 1 : evaluate(stepExpr, lookup);
    if (step <= 0) throw new Error(`unroll: step ${stepExpr} of loop over ${variable} is not positive`);
    const body = expand(rest.slice(bodyStart, bodyEnd), lookup);
    const indent = /[ \t]*$/.exec(rest.slice(0, m.index))![0];
    const use = new RegExp(`(?<![\\w.])${variable}\\b`, 'g');
    const copies: string[] = [];
    for (let i = 0; i < bound; i += step) copies.push(`{\n${body.replace(use, `${i}u`)}${indent}}`);
    out += rest.slice(0, m.index) + (copies.length ? copies.join(' ') : '{}');
    rest = rest.slice(bodyEnd + 1);
  }
}

/** Index of the `}` that closes the block whose body starts at `from`. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  throw new Error('unroll: unbalanced braces after an unrolled loop');
}

/** Integer arithmetic (+ - * / % and parentheses, / and % as on u32) over numbers and named constants. */
function evaluate(expr: string, lookup: (name: string) => number): number {
  const tokens = expr.match(/\d+u?|\w+|[-+*/%()]/g) ?? [];
  let at = 0;
  const peek = () => tokens[at];
  const next = () => tokens[at++];
  const primary = (): number => {
    const t = next();
    if (t === undefined) throw new Error(`unroll: bad expression ${expr}`);
    if (t === '(') {
      const v = sum();
      if (next() !== ')') throw new Error(`unroll: unbalanced parentheses in ${expr}`);
      return v;
    }
    if (t === 'rolled' && peek() === '(') return primary();
    if (/^\d/.test(t)) return parseInt(t, 10);
    if (/^\w+$/.test(t)) return lookup(t);
    throw new Error(`unroll: unexpected ${t} in ${expr}`);
  };
  const product = (): number => {
    let v = primary();
    while (peek() === '*' || peek() === '/' || peek() === '%') {
      const op = next();
      const r = primary();
      v = op === '*' ? v * r : op === '/' ? Math.floor(v / r) : v % r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (peek() === '+' || peek() === '-') v = next() === '+' ? v + product() : v - product();
    return v;
  };
  const v = sum();
  if (at !== tokens.length) throw new Error(`unroll: trailing tokens in ${expr}`);
  return v;
}
