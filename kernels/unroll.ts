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
 *
 * Arrays declared with a trailing `// scalarize` comment are then split into one variable per
 * element (`acc[1u][2u]` becomes `acc_1_2`); every index must have become a constant expression.
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
  return scalarize(expand(source, lookup), lookup);
}

const DECL = /var(<\w+>)? (\w+): (array<.*>);( *\/\/ scalarize)\n/;

function scalarize(source: string, lookup: (name: string) => number): string {
  const arrays = new Map<string, number[]>();
  let out = source.replace(new RegExp(DECL.source, 'g'), (_all, space: string | undefined, name: string, type: string) => {
    const { dims, element } = arrayType(type, lookup);
    arrays.set(name, dims);
    return `${elementNames(name, dims).map((n) => `var${space ?? ''} ${n}: ${element};`).join(' ')}\n`;
  });
  for (const [name, dims] of arrays) {
    const access = new RegExp(`(?<![\\w.])${name}${'\\[([^\\[\\]]+)\\]'.repeat(dims.length)}`, 'g');
    out = out.replace(access, (_all, ...groups: unknown[]) => {
      const idx = (groups.slice(0, dims.length) as string[]).map((g) => evaluate(g, lookup));
      idx.forEach((v, d) => {
        if (v < 0 || v >= dims[d]!) throw new Error(`scalarize: ${name} index ${v} out of 0..${dims[d]! - 1}`);
      });
      return `${name}_${idx.join('_')}`;
    });
    const code = out.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    if (new RegExp(`(?<![\\w.])${name}\\b`).test(code)) throw new Error(`scalarize: ${name} is still used as an array`);
  }
  return out;
}

/** Dimensions (outermost first) and element type of a possibly nested WGSL array type. */
function arrayType(type: string, lookup: (name: string) => number): { dims: number[]; element: string } {
  const m = /^array<(.*)>$/.exec(type.trim());
  if (!m) return { dims: [], element: type.trim() };
  const inner = m[1]!;
  let depth = 0;
  let comma = -1;
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === '<') depth++;
    else if (inner[i] === '>') depth--;
    else if (inner[i] === ',' && depth === 0) comma = i;
  }
  if (comma < 0) throw new Error(`scalarize: ${type} needs a fixed size`);
  const nested = arrayType(inner.slice(0, comma), lookup);
  return { dims: [evaluate(inner.slice(comma + 1), lookup), ...nested.dims], element: nested.element };
}

function elementNames(name: string, dims: number[]): string[] {
  let names = [name];
  for (const d of dims) names = names.flatMap((n) => Array.from({ length: d }, (_, i) => `${n}_${i}`));
  return names;
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
