// Sizes and ages as people read them, once for the CLI and the worker's messages: binary units (1 KiB = 1024 B,
// as PostgreSQL's MB), whole seconds up to two minutes.

export function formatBytes(n: number | bigint): string {
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  if (v < 1024 ** 2) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1024 ** 3) return `${(v / 1024 ** 2).toFixed(1)} MiB`;
  return `${(v / 1024 ** 3).toFixed(2)} GiB`;
}

/** "45 s", "12 min", "3 h", "9 days". */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600, d: 86_400 };

/** `90s`, `30m`, `1.5h`, `7d` (a bare number is seconds) → seconds; null for anything else or zero. */
export function parseDuration(text: string): number | null {
  const d = /^(\d{1,9}(?:\.\d+)?)\s*(s|m|min|h|d)?$/.exec(text.trim());
  if (!d || Number(d[1]) <= 0) return null;
  return Number(d[1]) * UNIT_SECONDS[d[2] ?? 's'];
}

/**
 * A moment as people give it for "since": a duration back from `now` (`90s`, `30m`, `1h`, `7d`) or an ISO
 * time with its zone (`2026-12-01T09:00:00Z`). Null for anything else (a time without zone is ambiguous).
 */
export function parseSince(text: string, now = new Date()): Date | null {
  // A duration needs its unit here: a bare number next to an ISO time would be ambiguous.
  const seconds = /[a-z]$/i.test(text.trim()) ? parseDuration(text) : null;
  if (seconds !== null) return new Date(now.getTime() - seconds * 1000);
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text.trim())) return null;
  const t = new Date(text.trim());
  return Number.isNaN(t.getTime()) ? null : t;
}
