// What the soak's clients know: every upload they started, what each HTTP attempt answered, and which ones
// were acknowledged. At the end it is compared with what the database holds.
import type { Format } from '../tests/reliability/http-client';

export type UploadState =
  /** Body sent whole at least once, no 201/200 yet: retried with the same key until acknowledged. */
  | 'pending'
  /** 201, or 200 replaying an earlier commit of the same key. */
  | 'acknowledged'
  /** The client gave up mid-body on purpose (a disconnect fault) and never retried: must not be stored. */
  | 'abandoned';

export interface UploadRecord {
  fileId: number;
  key: string;
  token: string;
  format: Format;
  rows: number;
  state: UploadState;
  attempts: number;
  /** 201 responses for this key (more than one would be a duplicate commit). */
  created: number;
}

export class Ledger {
  readonly uploads = new Map<number, UploadRecord>();
  /** HTTP outcomes by status ('dropped' for a lost connection). */
  readonly outcomes: Record<string, number> = {};
  /** Answers no valid upload should ever get (400, 422, 500 …), with their bodies. */
  readonly unexpected: string[] = [];

  add(r: Omit<UploadRecord, 'state' | 'attempts' | 'created'>): UploadRecord {
    const rec: UploadRecord = { ...r, state: 'pending', attempts: 0, created: 0 };
    this.uploads.set(r.fileId, rec);
    return rec;
  }

  outcome(kind: string): void {
    this.outcomes[kind] = (this.outcomes[kind] ?? 0) + 1;
  }

  count(state: UploadState): number {
    let n = 0;
    for (const u of this.uploads.values()) if (u.state === state) n++;
    return n;
  }

  rows(state: UploadState): number {
    let n = 0;
    for (const u of this.uploads.values()) if (u.state === state) n += u.rows;
    return n;
  }
}
