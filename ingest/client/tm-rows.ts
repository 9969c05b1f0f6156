// Deterministic translation-memory rows for `powerhouse upload --generate` and the benchmarks: the same
// seed gives the same rows on every machine, so a report can be reproduced and every method/format is fed identical data. ~200 bytes per
// row in COPY text form, with the content a TM really holds: accented Latin, CJK, RTL Arabic, emoji,
// quotes, and now and then a tab, newline or backslash (so every format's escaping is exercised).

export interface TmRow {
  tmId: number;
  source: string;
  target: string;
  /** NULL for ~1% of rows (the column is nullable in tm_entries). */
  createdBy: string | null;
}

/** Column order of every generated file and COPY. */
export const TM_COLUMNS = ['tm_id', 'source', 'target', 'created_by'] as const;

/** mulberry32: tiny, fast, good enough to pick words; deterministic across platforms (pure 32-bit math). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EN = (
  'the a file project translation memory segment source target review update release version string ' +
  'button menu window dialog settings user account password error warning message server client upload ' +
  'download save open close cancel confirm delete select copy paste search replace language term glossary ' +
  'style guide customer invoice payment order shipping address phone number email contact support team ' +
  'please click here to continue your changes have been saved successfully could not be found is are was ' +
  'will must should may can new old first last next previous all none some each every other this that'
).split(' ');

// Target languages, each a word list: the byte mix (1-, 2-, 3- and 4-byte UTF-8) is what matters.
const TARGETS: readonly (readonly string[])[] = [
  'die der das Datei Projekt Übersetzung Speicher Änderungen gespeichert Größe Schließen Öffnen für über Prüfung Straße Kunde Zahlung Bestellung Benutzer Fehler Warnung'.split(
    ' ',
  ),
  'le la les fichier projet traduction mémoire modifiées enregistrées été à où ça déjà préférences fenêtre élément créer réseau numéro adresse reçu'.split(
    ' ',
  ),
  'el la los archivo proyecto traducción memoria año señal niño cambios guardados configuración contraseña búsqueda diseño pequeño número dirección'.split(
    ' ',
  ),
  'plik projekt tłumaczenie pamięć zmiany zostały zapisane błąd ostrzeżenie użytkownik hasło źródło żółty część wiadomość łączyć'.split(
    ' ',
  ),
  'ファイル プロジェクト 翻訳 メモリ 変更 保存 されました エラー 警告 ユーザー パスワード 検索 設定 言語 用語 確認 削除 次へ 戻る'.split(
    ' ',
  ),
  'ملف مشروع ترجمة ذاكرة تم حفظ التغييرات خطأ تحذير مستخدم كلمة المرور بحث إعدادات لغة مصطلح تأكيد حذف التالي'.split(
    ' ',
  ),
];
const EMOJI = ['🙂', '🚀', '✅', '📁', '🔒', '🎉', '⚠️', '👍🏽', '🇩🇪', '❤️'];
const CJK_TARGET = 4;

/**
 * Produces rows for one "user" (stream): rows of different streams differ, and each stream writes to a
 * handful of its own tm_ids, as a translator's TMs do.
 */
export class TmRowGenerator {
  private readonly rand: () => number;
  private readonly tmBase: number;
  private readonly author: string;

  constructor(seed: number, stream = 0) {
    // Mix the stream into the seed so neighbouring streams do not share a sequence.
    this.rand = mulberry32((seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0);
    this.tmBase = 1000 + stream * 16;
    this.author = `translator${String(stream + 1).padStart(3, '0')}@example.com`;
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rand() * list.length)];
  }

  private sentence(words: readonly string[], minBytes: number, sep: string): string {
    const parts: string[] = [];
    let n = 0;
    while (n < minBytes) {
      const w = this.pick(words);
      parts.push(w);
      n += w.length + sep.length;
    }
    return parts.join(sep);
  }

  next(): TmRow {
    const r = this.rand();
    let source = this.sentence(EN, 55 + Math.floor(this.rand() * 35), ' ');
    source = source[0].toUpperCase() + source.slice(1) + '.';
    const lang = Math.floor(this.rand() * TARGETS.length);
    // CJK words are 3 bytes a char: fewer chars give the same byte size.
    const targetChars =
      lang === CJK_TARGET ? 22 + Math.floor(this.rand() * 12) : 50 + Math.floor(this.rand() * 35);
    let target = this.sentence(TARGETS[lang], targetChars, lang === CJK_TARGET ? '' : ' ');
    if (r < 0.05) target += ' ' + this.pick(EMOJI);
    if (r > 0.99)
      source = `"${source}" (${Math.floor(this.rand() * 1000)})`; // quotes: CSV must double them
    else if (r > 0.985)
      target += '\tTab'; // COPY text and CSV escaping
    else if (r > 0.982) source += '\nsecond line';
    else if (r > 0.98) target += ' C:\\Users\\path';
    const createdBy = this.rand() < 0.01 ? null : this.author;
    return { tmId: this.tmBase + Math.floor(this.rand() * 8), source, target, createdBy };
  }
}

/** `count` rows of one stream. */
export function* tmRows(seed: number, count: number, stream = 0): Generator<TmRow> {
  const gen = new TmRowGenerator(seed, stream);
  for (let i = 0; i < count; i++) yield gen.next();
}
