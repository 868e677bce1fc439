// torch.argsort(stable=False) on the CPU, as the permutation PyTorch actually returns for a
// contiguous 1-D slice: it runs libstdc++'s std::sort (introsort: median-of-three quicksort down to
// runs of 16, heapsort past 2·⌊log2 n⌋ levels, then one insertion sort) over (value, index) pairs
// comparing values only, so equal values come out in an order that is not the index order.
// tomesd's src/dst split is an argsort of a −1/0 grid; its order is visible in the merged tensor.
// Assumes a Linux (GCC) build of PyTorch and keys without NaN.

const THRESHOLD = 16;

export function torchCpuArgsort(keys: ArrayLike<number>): Uint32Array {
  const n = keys.length;
  const idx = Uint32Array.from({ length: n }, (_, i) => i);
  const less = (a: number, b: number) => keys[a]! < keys[b]!;
  if (n > 1) {
    introsortLoop(idx, 0, n, 2 * Math.floor(Math.log2(n)), less);
    finalInsertionSort(idx, 0, n, less);
  }
  return idx;
}

type Less = (a: number, b: number) => boolean;

function introsortLoop(a: Uint32Array, first: number, last: number, depth: number, less: Less): void {
  while (last - first > THRESHOLD) {
    if (depth === 0) {
      heapSort(a, first, last, less);
      return;
    }
    depth--;
    const mid = first + Math.floor((last - first) / 2);
    moveMedianToFirst(a, first, first + 1, mid, last - 1, less);
    const cut = unguardedPartition(a, first + 1, last, first, less);
    introsortLoop(a, cut, last, depth, less);
    last = cut;
  }
}

function swap(a: Uint32Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

function moveMedianToFirst(a: Uint32Array, result: number, x: number, y: number, z: number, less: Less): void {
  const [ax, ay, az] = [a[x]!, a[y]!, a[z]!];
  let pick: number;
  if (less(ax, ay)) pick = less(ay, az) ? y : less(ax, az) ? z : x;
  else pick = less(ax, az) ? x : less(ay, az) ? z : y;
  swap(a, result, pick);
}

function unguardedPartition(a: Uint32Array, first: number, last: number, pivot: number, less: Less): number {
  for (;;) {
    while (less(a[first]!, a[pivot]!)) first++;
    last--;
    while (less(a[pivot]!, a[last]!)) last--;
    if (!(first < last)) return first;
    swap(a, first, last);
    first++;
  }
}

function finalInsertionSort(a: Uint32Array, first: number, last: number, less: Less): void {
  if (last - first > THRESHOLD) {
    insertionSort(a, first, first + THRESHOLD, less);
    for (let i = first + THRESHOLD; i < last; i++) unguardedLinearInsert(a, i, less);
  } else insertionSort(a, first, last, less);
}

function insertionSort(a: Uint32Array, first: number, last: number, less: Less): void {
  for (let i = first + 1; i < last; i++) {
    const v = a[i]!;
    if (less(v, a[first]!)) {
      a.copyWithin(first + 1, first, i);
      a[first] = v;
    } else unguardedLinearInsert(a, i, less);
  }
}

function unguardedLinearInsert(a: Uint32Array, last: number, less: Less): void {
  const v = a[last]!;
  let next = last - 1;
  while (less(v, a[next]!)) {
    a[last] = a[next]!;
    last = next;
    next--;
  }
  a[last] = v;
}

// std::make_heap + std::sort_heap (what __partial_sort(first, last, last) amounts to)
function heapSort(a: Uint32Array, first: number, last: number, less: Less): void {
  const len = last - first;
  if (len >= 2) {
    for (let parent = Math.floor((len - 2) / 2); ; parent--) {
      adjustHeap(a, first, parent, len, a[first + parent]!, less);
      if (parent === 0) break;
    }
  }
  while (last - first > 1) {
    last--;
    const v = a[last]!;
    a[last] = a[first]!;
    adjustHeap(a, first, 0, last - first, v, less);
  }
}

function adjustHeap(a: Uint32Array, first: number, hole: number, len: number, value: number, less: Less): void {
  const top = hole;
  let child = hole;
  while (child < Math.floor((len - 1) / 2)) {
    child = 2 * (child + 1);
    if (less(a[first + child]!, a[first + child - 1]!)) child--;
    a[first + hole] = a[first + child]!;
    hole = child;
  }
  if ((len & 1) === 0 && child === Math.floor((len - 2) / 2)) {
    child = 2 * (child + 1);
    a[first + hole] = a[first + child - 1]!;
    hole = child - 1;
  }
  let parent = Math.floor((hole - 1) / 2);
  while (hole > top && less(a[first + parent]!, value)) {
    a[first + hole] = a[first + parent]!;
    hole = parent;
    parent = Math.floor((hole - 1) / 2);
  }
  a[first + hole] = value;
}
