// Building the page's elements: text only through textContent (token names and error messages are data,
// never markup), attributes one by one, no inline style attribute (the CSP forbids them; widths are set
// through the CSSOM, which it allows).

type Child = Node | string | number | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'number' ? String(c) : c);
  }
  return e;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

/** Replaces a table body's rows. */
export function setRows(table: string, rows: HTMLTableRowElement[]): void {
  byId<HTMLTableElement>(table).tBodies[0].replaceChildren(...rows);
}
