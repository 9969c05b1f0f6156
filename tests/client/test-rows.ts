// Rows for the client tests, in a module of their own so the RSS child process loads nothing else.

/**
 * tm_entries rows (~200 bytes as COPY, like a real TM entry) whose (tm_id, source) pairs all differ, so a
 * duplicate in the table can only be a row stored twice. Plain string building: fast under jest's vm.
 */
export function* uniqueTmRows(count: number, tmId = 7): Generator<[number, string, string, string | null]> {
  for (let i = 1; i <= count; i++) {
    yield [
      tmId,
      `Segment ${i}: the translation memory entry for this project has been saved successfully.`,
      `Segment ${i}: Der Übersetzungsspeicher-Eintrag für dieses Projekt wurde erfolgreich gespeichert ✅`,
      i % 100 === 0 ? null : 'translator001@example.com',
    ];
  }
}

export const TM_COLUMNS = ['tm_id', 'source', 'target', 'created_by'];
