// Counts in words for what the project prints: "1 row", "2 rows", "1,000,000 rows", "1 core". Pure.

/** The number, rounded and grouped (en-US), with the singular or the plural noun. */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  const whole = Math.round(n);
  return `${whole.toLocaleString('en-US')} ${whole === 1 ? singular : plural}`;
}
