/*
 * tokgeo/tokenizer.h - GPT-2 byte-level BPE: the pre-tokenizer scanner and the merges; the BPE
 * trainer, tiktoken rank files and BERT's WordPiece further down.
 *
 *   tg_tokenizer *tok;
 *   if (tg_tokenizer_load(&tok, "tokgeo/data/gpt2/encoder.json",
 *                         "tokgeo/data/gpt2/vocab.bpe") != TG_OK) ...;   // tg_last_error()
 *   tg_tokens out = {0};
 *   if (tg_encode(tok, "She gave her book", 17, NULL, TG_ENC_OFFSETS, &out) == TG_OK)
 *       for (size_t i = 0; i < out.n; i++)
 *           printf("%d [%lld, %lld)\n", out.ids[i], out.offsets[2*i], out.offsets[2*i+1]);
 *   tg_tokens_free(&out);
 *   tg_tokenizer_free(tok);
 *
 * What the encoder computes (identical to tiktoken's "gpt2" encoding and to Hugging Face
 * tokenizers' GPT-2, see tests/test_tokenizer*.py):
 *   1. Special tokens (vocabulary entries "<|...|>" that no merge produces, in GPT-2 only
 *      "<|endoftext|>" = 50256) are found first; each is, per the caller's mode array,
 *      ordinary text, a special token, or an error (TG_ERR_SPECIAL).
 *   2. Each stretch between special tokens is split by GPT-2's pattern
 *        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      implemented as a forward scanner (no backtracking, linear time) over the Unicode
 *      16.0 classes in unicode_tables.h (\s is the White_Space property).
 *   3. Each pre-token's bytes are merged by BPE: repeatedly the adjacent pair with the
 *      lowest merge rank (line order of the merges file), leftmost first on ties.  Short
 *      pre-tokens use a small quadratic loop, long ones a heap + linked list
 *      (O(n log n)); both produce the same result.  A pre-token that is itself a
 *      vocabulary token whose own BPE gives that token (checked at load) skips BPE, and
 *      a bounded per-thread cache maps recent pre-tokens to their ids.
 *
 * Ownership and threads: a tg_tokenizer is immutable after loading except for its pool
 * of per-thread BPE caches, which is protected by a mutex; one tokenizer may be used by
 * any number of threads at once.  Output structs (tg_tokens, tg_batch) are owned by the
 * caller and released with their *_free function.
 *
 * Limits: token ids are below 2^24; one pre-token is below 4 GiB; a text or a batch may be
 * as large as memory allows.  Encode functions call tg_interrupted() from the calling
 * thread and return TG_ERR_INTERRUPTED when asked to stop.
 */
#ifndef TG_TOKENIZER_H
#define TG_TOKENIZER_H

#include "tokgeo/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TG_TOKENIZER_MAX_ID ((1 << 24) - 1)

typedef struct tg_tokenizer tg_tokenizer;

/* Loads a GPT-2 style byte-level BPE vocabulary:
 *   vocab  - JSON object {byte-level token string: id} (encoder.json / vocab.json);
 *   merges - text, one merge "A B" per line (vocab.bpe / merges.txt); an optional first
 *            line starting with "#version"; "\r\n" line ends accepted; blank lines only at
 *            the end.  Both A and B must be vocabulary tokens and so must A+B; a pair may
 *            appear once.  The rank of a merge is its index among the merge lines.
 * Every byte must have a single-byte token.  Ids must be unique, in [0, 2^24); gaps
 * are allowed (such ids are invalid for decoding).
 * Malformed input is TG_ERR_FORMAT with the file name and the line (merges) or byte
 * offset / token (vocab) in the message; unreadable files TG_ERR_IO.
 * On success *out owns the tokenizer (free with tg_tokenizer_free); on failure *out is
 * NULL and nothing is leaked. */
tg_status tg_tokenizer_load(tg_tokenizer **out, const char *vocab_path, const char *merges_path);

/* The same from memory.  `vocab_name` / `merges_name` only label error messages (may be
 * NULL).  The buffers are not retained. */
tg_status tg_tokenizer_load_buffers(tg_tokenizer **out, const char *vocab, size_t vocab_len,
                                    const char *vocab_name, const char *merges,
                                    size_t merges_len, const char *merges_name);

/* Loading options beyond GPT-2's defaults (tg_tokenizer_load_buffers uses {0, false}):
 *   pattern           - the split pattern: 0 GPT-2's, 1 cl100k_base's (TG_PATTERN_* in
 *                       the BPE trainer below);
 *   rank_by_merged_id - tiktoken semantics: a merge's rank is the id of the token it makes
 *                       (so every split of one token has the same rank, leftmost wins), and
 *                       a pre-token that is itself a token is that token (tiktoken's
 *                       whole-piece lookup).  For vocabularies made from a .tiktoken rank
 *                       file, where ids are ranks. */
typedef struct tg_tokenizer_opts {
    int pattern;
    bool rank_by_merged_id;
} tg_tokenizer_opts;
tg_status tg_tokenizer_load_buffers_opts(tg_tokenizer **out, const char *vocab, size_t vocab_len,
                                         const char *vocab_name, const char *merges, size_t merges_len,
                                         const char *merges_name, const tg_tokenizer_opts *opts);
/* The split pattern the tokenizer was loaded with (tg_tokenizer_opts.pattern). */
int tg_tokenizer_pattern(const tg_tokenizer *tok);

/* NULL is a no-op. No encode may be running on `tok`. */
void tg_tokenizer_free(tg_tokenizer *tok);

/* Largest id + 1. */
size_t tg_tokenizer_n_vocab(const tg_tokenizer *tok);
/* Id of "<|endoftext|>", or -1 when the vocabulary has none. */
int32_t tg_tokenizer_eot_id(const tg_tokenizer *tok);
/* Number of special tokens, and the i-th one (bytes owned by `tok`, not NUL-terminated).
 * Special tokens are numbered in id order.  Returns false when i is out of range. */
size_t tg_tokenizer_n_special(const tg_tokenizer *tok);
bool tg_tokenizer_special(const tg_tokenizer *tok, size_t i, const uint8_t **bytes, size_t *len,
                          int32_t *id);
/* The bytes of token `id` (owned by `tok`, valid until tg_tokenizer_free).  False for an id
 * outside [0, n_vocab) or a gap in the vocabulary. */
bool tg_tokenizer_token_bytes(const tg_tokenizer *tok, int64_t id, const uint8_t **bytes,
                              size_t *len);
/* Byte-level form ("Ġher") of `bytes` written as UTF-8 into buf (at most 2 bytes per input
 * byte: buf must hold 2 * len bytes).  Returns the number of bytes written. */
size_t tg_bytes_to_byte_level(const uint8_t *bytes, size_t len, char *buf);

/* ---- encoding ---- */

/* Per special token (index as in tg_tokenizer_special), what encoding does with it. */
enum {
    TG_SPECIAL_TEXT = 0,   /* an ordinary piece of text                      */
    TG_SPECIAL_ALLOW = 1,  /* becomes its special id                          */
    TG_SPECIAL_FORBID = 2  /* its presence is TG_ERR_SPECIAL                  */
};

/* Flags for tg_encode / tg_encode_batch. */
enum {
    TG_ENC_OFFSETS = 1,      /* fill offsets, in bytes of the UTF-8 input           */
    TG_ENC_CHAR_OFFSETS = 3  /* fill offsets, in code points (implies TG_ENC_OFFSETS) */
};

/* A growable token list.  Zero-initialise before the first use; reuse across calls is
 * allowed (each tg_encode overwrites it); release with tg_tokens_free.
 * offsets (when requested) holds 2 * n int64: [start, end) of token i.  Code point
 * offsets: a token that covers only some bytes of a multi-byte character is given the
 * span of the whole character (so two tokens that split one character both get it),
 * i.e. start = the character containing its first byte, end = one past the character
 * containing its last byte. */
typedef struct tg_tokens {
    int32_t *ids;
    int64_t *offsets;
    size_t n, cap;
} tg_tokens;
void tg_tokens_free(tg_tokens *t);

/* Encodes `len` bytes of UTF-8 at `text` (invalid UTF-8 is TG_ERR_UNICODE with the byte
 * offset).  `special_modes` has tg_tokenizer_n_special entries (NULL: all TEXT).
 * On failure out->n is 0. */
tg_status tg_encode(const tg_tokenizer *tok, const char *text, size_t len,
                    const uint8_t *special_modes, int flags, tg_tokens *out);

/* Text given as code units, so that callers holding another representation (Python's
 * str stores Latin-1, UCS-2 or UCS-4) need no UTF-8 copy of their own: the encoder
 * converts into per-thread scratch memory.  Surrogate code points (U+D800..U+DFFF) cannot
 * be encoded and are TG_ERR_UNICODE with their index; so are values above U+10FFFF. */
enum { TG_TEXT_UTF8 = 0, TG_TEXT_LATIN1 = 1, TG_TEXT_UCS2 = 2, TG_TEXT_UCS4 = 4 };
typedef struct tg_text {
    const void *data; /* len code units of the given width (bytes for UTF-8 / Latin-1) */
    size_t len;
    int width;        /* TG_TEXT_* */
} tg_text;

/* tg_encode for a tg_text.  Offsets are in bytes of the text's UTF-8 form, or (with
 * TG_ENC_CHAR_OFFSETS) in code points. */
tg_status tg_encode_text(const tg_tokenizer *tok, const tg_text *text, const uint8_t *special_modes, int flags,
                         tg_tokens *out);

/* A batch of encoded texts (opaque). */
typedef struct tg_batch tg_batch;

/* Encodes n texts in parallel (OpenMP, tg_get_num_threads() threads, dynamic schedule;
 * one thread below 64 KB of text); texts[i] has lens[i] bytes.  Errors name the first
 * failing text by index.  On success *out owns the batch (tg_batch_free; free it before
 * the tokenizer, which it refers to); on failure *out is NULL.  The batch keeps only the
 * ids (4 bytes per token): tg_batch_fill derives the offsets from them. */
tg_status tg_encode_batch(const tg_tokenizer *tok, const char *const *texts, const size_t *lens,
                          size_t n, const uint8_t *special_modes, int flags, tg_batch **out);
size_t tg_batch_count(const tg_batch *b);
/* Tokens of text i (0 when i is out of range) and the longest text's count. */
size_t tg_batch_length(const tg_batch *b, size_t i);
size_t tg_batch_max_length(const tg_batch *b);
/* Writes the padded batch into caller buffers of T >= max_length columns:
 *   ids [n, T] int64 (padding: pad_id), mask [n, T] (1 token, 0 padding), lengths [n],
 *   offsets [n, T, 2] int64 (padding: -1; may be NULL; needs TG_ENC_OFFSETS at encode).
 * pad_left puts the padding before the tokens.  TG_ERR_VALUE when T is too small or
 * offsets were not computed. */
tg_status tg_batch_fill(const tg_batch *b, size_t T, int64_t pad_id, bool pad_left, int64_t *ids,
                        uint8_t *mask, int64_t *lengths, int64_t *offsets);
void tg_batch_free(tg_batch *b);
/* tg_encode_batch for tg_text inputs (conversion to UTF-8 happens in the worker threads). */
tg_status tg_encode_batch_texts(const tg_tokenizer *tok, const tg_text *texts, size_t n,
                                const uint8_t *special_modes, int flags, tg_batch **out);

/* Offsets of the tokens ids[0..n) of one text, derived from the ids alone (as tg_encode
 * computes them): [start, end) in bytes, or in code points when `chars`; 2 * n int64 into
 * off.  TG_ERR_INDEX for an id outside the vocabulary. */
tg_status tg_offsets_from_ids(const tg_tokenizer *tok, const int64_t *ids, size_t n, bool chars, int64_t *off);

/* ---- decoding ---- */

/* Total bytes of the tokens ids[0..n), or TG_ERR_INDEX naming the first invalid id and
 * its position. */
tg_status tg_decode_size(const tg_tokenizer *tok, const int64_t *ids, size_t n, size_t *size);
/* Writes the tokens' bytes to buf (which holds the size tg_decode_size gave). */
tg_status tg_decode(const tg_tokenizer *tok, const int64_t *ids, size_t n, uint8_t *buf);

/* ---- pieces, exposed for tests and tools ---- */

/* Checks that s[0..n) is UTF-8 (no surrogates, overlong forms or values > U+10FFFF).
 * TG_ERR_UNICODE with the offset otherwise.  *is_ascii (may be NULL) says whether every
 * byte is below 0x80. */
tg_status tg_utf8_check(const uint8_t *s, size_t n, bool *is_ascii);

/* Length in bytes of the GPT-2 pre-token that starts at s[0], in the valid UTF-8 stretch
 * s[0..n), n > 0.  Always between 1 and n and ends on a character boundary. */
size_t tg_pretoken_len(const uint8_t *s, size_t n);


/* ======================================================================== */
/*
 * the BPE trainer - training a byte-level BPE vocabulary (GPT-2 style files).
 *
 *   tg_bpe_train_opts o = {.vocab_size = 1000, .min_frequency = 2};
 *   tg_bpe_trainer *tr;
 *   if (tg_bpe_trainer_new(&tr, &o) != TG_OK) ...;          // tg_last_error()
 *   tg_bpe_trainer_feed_file(tr, "corpus.txt");             // and / or tg_bpe_trainer_feed
 *   tg_bpe_trainer_train(tr);
 *   tg_bpe_trainer_save(tr, "out");                          // out/vocab.json, out/merges.txt
 *   tg_bpe_trainer_free(tr);
 *
 * What it computes (the same merges as Hugging Face tokenizers' BpeTrainer with a
 * ByteLevel(add_prefix_space=False) pre-tokenizer and initial_alphabet =
 * ByteLevel.alphabet(), see tests/test_bpe_train.py):
 *   1. Words.  Each text is split by GPT-2's pattern (or cl100k's, TG_PATTERN_CL100K) into
 *      pre-tokens, counted in a hash table per thread.  A file is read line by line, each
 *      line with its "\n" one text (as tokenizers' train_from_files), so pre-tokens never
 *      cross a line end.  Special tokens inside the corpus are ordinary text.
 *   2. Ids.  The special tokens first (ids 0..k-1, in the given order), then the 256 byte
 *      tokens in the order of their byte-level characters (GPT-2's bytes_to_unicode code
 *      points: "!" .. "~", then U+00A1.., then U+0100.. for the unprintable bytes), then
 *      each merged token as it is created.
 *   3. Merges.  Repeatedly the adjacent pair of tokens with the highest count over all
 *      words (a word counts as often as it occurs) is merged into a new token, until the
 *      vocabulary has vocab_size tokens, no pair is left, or the best count is below
 *      max(1, min_frequency).
 *      Tie-break (documented, deterministic): among pairs of equal count, the one with the
 *      smaller left id, then the smaller right id (ids as in 2.).
 *      A merge whose result is already a token (two different pairs can spell the same
 *      bytes) is recorded but adds no token.
 *      In each word occurrences are merged left to right ("a a a" -> "aa a").
 *   The algorithm: counts of all adjacent pairs with, per pair, the list of positions where
 *   it occurs; an indexed binary heap over the pairs ordered by (count desc, left, right);
 *   each merge visits only the positions of its pair and updates the counts of the
 *   neighbouring pairs (re-placing each changed pair in the heap once per merge).  Time O(corpus + sum of occurrences merged * log pairs).
 *
 * Output files (tg_bpe_trainer_vocab_json / _merges_txt / _save):
 *   vocab.json  {"token": id, ...} in id order, tokens in GPT-2's byte-level alphabet;
 *   merges.txt  "#version: 0.2" then one "A B" line per merge, in merge order.
 * Byte for byte what tokenizers' BPE model.save() writes for the same training.
 *
 * Ownership and threads: a trainer is fed and trained from one thread at a time; feeding
 * counts in parallel itself (OpenMP, opts.threads).  Once trained, the functions that take
 * a const trainer only read it and may run at the same time (tokgeo saves the files while
 * it builds the tokenizer).  Everything it returns points into the trainer
 * (valid until tg_bpe_trainer_free) unless said otherwise.  Feed functions poll
 * tg_interrupted() from the calling thread (TG_ERR_INTERRUPTED).
 */

/* The split pattern of the pre-tokenizer. */
enum { TG_PATTERN_GPT2 = 0, TG_PATTERN_CL100K = 1 };

/* Length of the pre-token at s[0] in the valid UTF-8 stretch s[0..n) (n > 0) under
 * `pattern` (TG_PATTERN_*); between 1 and n, on a character boundary. */
size_t tg_pretoken_len_pattern(int pattern, const uint8_t *s, size_t n);

typedef struct tg_bpe_train_opts {
    size_t vocab_size;        /* wanted tokens, specials and the 256 bytes included */
    uint64_t min_frequency;   /* a pair is merged only when it occurs this often (0 = 1) */
    const char *const *special_tokens; /* n_special UTF-8 strings, NUL-terminated (may be NULL) */
    size_t n_special;
    int threads;              /* counting threads; <= 0: tg_get_num_threads() */
    int pattern;              /* TG_PATTERN_* */
} tg_bpe_train_opts;

/* One merge of the training, in order. */
typedef struct tg_bpe_merge {
    uint32_t left, right; /* ids of the merged pair */
    uint32_t merged;      /* id of the result (a new id, or an existing token's) */
    uint32_t vocab_size;  /* tokens in the vocabulary after this merge */
    uint64_t count;       /* occurrences of the pair when it was merged */
} tg_bpe_merge;

typedef struct tg_bpe_trainer tg_bpe_trainer;

/* TG_ERR_VALUE for vocab_size < 256 + specials, an empty / duplicate special token, one that
 * is not UTF-8 or has a character outside GPT-2's byte-level alphabet (such a token could
 * not be written to vocab.json in a form tokgeo and tokenizers read back alike), or an
 * unknown pattern.  On success *out owns the trainer (tg_bpe_trainer_free). */
tg_status tg_bpe_trainer_new(tg_bpe_trainer **out, const tg_bpe_train_opts *opts);
void tg_bpe_trainer_free(tg_bpe_trainer *t);

/* Counts the pre-tokens of n texts (code units as in tg_text; UTF-8 ones are checked).
 * Errors (TG_ERR_UNICODE) name the first bad text by index; the counts of that call are
 * then partial, so the trainer refuses to train afterwards (TG_ERR_VALUE). */
tg_status tg_bpe_trainer_feed(tg_bpe_trainer *t, const tg_text *texts, size_t n);

/* Counts the lines of a file, streamed in blocks (memory: one block, not the file).
 * Invalid UTF-8 is TG_ERR_UNICODE naming the file, the line (1-based) and the byte offset
 * in the file; unreadable files TG_ERR_IO. */
tg_status tg_bpe_trainer_feed_file(tg_bpe_trainer *t, const char *path);

/* Distinct pre-tokens counted so far, and all pre-tokens (with repetitions). */
size_t tg_bpe_trainer_n_words(const tg_bpe_trainer *t);
uint64_t tg_bpe_trainer_n_pretokens(const tg_bpe_trainer *t);

/* Runs the merges.  TG_ERR_VALUE for an empty corpus (no pre-token counted), after a
 * failed feed, or when called twice.  The word counts are released afterwards. */
tg_status tg_bpe_trainer_train(tg_bpe_trainer *t);

/* After training: the vocabulary size, the bytes of token `id` (false when out of range),
 * the merges (n_merges entries, in order). */
size_t tg_bpe_trainer_vocab_size(const tg_bpe_trainer *t);
bool tg_bpe_trainer_token(const tg_bpe_trainer *t, size_t id, const uint8_t **bytes, size_t *len);
size_t tg_bpe_trainer_n_merges(const tg_bpe_trainer *t);
const tg_bpe_merge *tg_bpe_trainer_merges(const tg_bpe_trainer *t);

/* The two files' contents (malloc'd, caller frees; *len bytes, also NUL-terminated). */
tg_status tg_bpe_trainer_vocab_json(const tg_bpe_trainer *t, char **buf, size_t *len);
tg_status tg_bpe_trainer_merges_txt(const tg_bpe_trainer *t, char **buf, size_t *len);

/* Writes dir/vocab.json and dir/merges.txt (dir must exist).  Each file is written to a
 * temporary file in dir (mode 0666 less the umask) and renamed over the target, so a reader
 * never sees a partial file and a failure leaves none behind (the temporaries are removed).
 * The files are not fsync'd: after a power loss one may be missing, empty or the previous one. */
tg_status tg_bpe_trainer_save(const tg_bpe_trainer *t, const char *dir);

/* A tokenizer for the trained vocabulary (as tg_tokenizer_load of the saved files). */
tg_status tg_bpe_trainer_tokenizer(const tg_bpe_trainer *t, tg_tokenizer **out);


/* ======================================================================== */
/*
 * tiktoken rank files - byte-level BPE tokenizers from tiktoken rank files (GPT-4's cl100k_base).
 *
 *   const char *sp[] = {"<|endoftext|>"};  int32_t ids[] = {100257};
 *   tg_tokenizer *tok;
 *   tg_tokenizer_load_tiktoken(&tok, "cl100k_base.tiktoken", sp, ids, 1, TG_PATTERN_CL100K);
 *
 * The result encodes exactly as tiktoken's Encoding with the same ranks, split pattern and
 * special tokens (tests/test_cl100k.py): see tiktoken_load.c for how the ranks become
 * merges.  Special tokens must be "<|...|>" strings (that is how the engine recognises
 * them) with ids not used by the ranks.
 */

/* Loads `path` ("base64 rank" lines).  Malformed files are TG_ERR_FORMAT naming the line;
 * unreadable ones TG_ERR_IO.  On success *out owns the tokenizer (tg_tokenizer_free). */
tg_status tg_tokenizer_load_tiktoken(tg_tokenizer **out, const char *path, const char *const *special_tokens,
                                     const int32_t *special_ids, size_t n_special, int pattern);
/* The same from memory (`name` labels messages; the buffer is not retained). */
tg_status tg_tokenizer_load_tiktoken_buffer(tg_tokenizer **out, const char *data, size_t len, const char *name,
                                            const char *const *special_tokens, const int32_t *special_ids,
                                            size_t n_special, int pattern);

/* ======================================================================== */
/*
 * WordPiece - BERT's tokenizer (vocab.txt, uncased or cased).
 *
 *   tg_wordpiece_opts o = {.lowercase = true, .strip_accents = -1};
 *   tg_wordpiece *wp;
 *   if (tg_wordpiece_load(&wp, "vocab.txt", &o) != TG_OK) ...;          // tg_last_error()
 *   tg_text t = {"Héllo, 世界!", 14, TG_TEXT_UTF8};
 *   tg_tokens out = {0};
 *   tg_wordpiece_encode(wp, &t, TG_ENC_CHAR_OFFSETS | TG_WP_SPECIALS | TG_WP_ADD_SPECIAL, &out);
 *   tg_tokens_free(&out);
 *   tg_wordpiece_free(wp);
 *
 * What it computes (token- and offset-identical to Hugging Face tokenizers' BERT tokenizer,
 * BertNormalizer + BertPreTokenizer + WordPiece + BertProcessing, on characters whose
 * Unicode data agree, see tests/test_wordpiece.py):
 *   1. With TG_WP_SPECIALS, the vocabulary's [UNK] [CLS] [SEP] [PAD] [MASK] found in the raw
 *      text (exact, case-sensitive) become their ids; the text between them is step 2-4.
 *   2. Normalisation, in this order: clean text (drop NUL, U+FFFD and the characters of
 *      category Cc - but tab, LF, CR -, Cf and Co; White_Space becomes ' '); a space on each
 *      side of a CJK ideograph (BERT's ranges); with strip_accents, full canonical
 *      decomposition (NFD) then drop category Mn; with lowercase, each code point's lower
 *      case (no final-sigma context).  Unicode 16.0 (csrc/tokenizer/wordpiece_tables.h).
 *   3. Words: split at White_Space (dropped) and around each punctuation character (ASCII
 *      33-47, 58-64, 91-96, 123-126 and category P*, each its own word).
 *   4. WordPiece: a word longer than max_input_chars_per_word characters is [UNK]; else
 *      greedy longest-match-first from the left, pieces after the first looked up with the
 *      "##" prefix; a word with any position that no token matches is one [UNK].
 *   5. With TG_WP_ADD_SPECIAL, [CLS] first and [SEP] last (offsets [0, 0)).
 * Offsets: token i covers input characters [offsets[2i], offsets[2i+1]) (code points, or
 * bytes of the UTF-8 form without TG_ENC_CHAR_OFFSETS): from the input character of its
 * first normalised character to the one of its last (a character that normalises to
 * several, like "ﬁ" or an accented letter, belongs whole to each token made from it).
 *
 * Ownership and threads: a tg_wordpiece is immutable after loading; any number of threads
 * may encode with it at once.  Token strings returned point into it (valid until
 * tg_wordpiece_free).  tg_tokens outputs are the caller's (tg_tokens_free).  Limits: a text
 * below 2^32 code units, ids below 2^24, a vocabulary file below 4 GiB.
 */

/* Which special token (tg_wordpiece_special_id). */
enum { TG_WP_UNK = 0, TG_WP_CLS = 1, TG_WP_SEP = 2, TG_WP_PAD = 3, TG_WP_MASK = 4, TG_WP_N_SPECIAL = 5 };

/* Flags for tg_wordpiece_encode, beside TG_ENC_OFFSETS / TG_ENC_CHAR_OFFSETS. */
enum {
    TG_WP_SPECIALS = 4,     /* special tokens written in the text are matched (step 1)           */
    TG_WP_ADD_SPECIAL = 8,  /* [CLS] ... [SEP] around the tokens (step 5)                        */
    TG_WP_WORDS = 16        /* stop after step 3: one entry per word, id -1, offsets [a, b) into  */
                            /* the normalised text of tg_wordpiece_normalize (no step 1 or 5)     */
};

typedef struct tg_wordpiece_opts {
    bool lowercase;                 /* uncased BERT: true                                       */
    int strip_accents;              /* -1: as lowercase (BERT's default), 0 no, 1 yes           */
    bool no_clean_text;             /* skip step 2's cleaning (BERT always cleans)              */
    bool no_chinese_chars;          /* no spaces around CJK ideographs (BERT always adds them)  */
    size_t max_input_chars_per_word; /* 0: 100                                                  */
    const char *unk_token;          /* NUL-terminated; NULL: "[UNK]"                            */
} tg_wordpiece_opts;

typedef struct tg_wordpiece tg_wordpiece;

/* Loads a vocab.txt: one token per line, the id of a token is its line number - 1; "\n" or
 * "\r\n" line ends; trailing spaces / tabs of a line are dropped (as tokenizers does).
 * TG_ERR_FORMAT naming the file and line for: an empty file, an empty line, a line that is
 * not UTF-8, a token listed twice, no unknown token (opts->unk_token); TG_ERR_IO when the
 * file cannot be read; TG_ERR_VALUE for bad opts.  opts NULL: uncased BERT.  On success
 * *out owns the tokenizer (tg_wordpiece_free); on failure *out is NULL, nothing leaked. */
tg_status tg_wordpiece_load(tg_wordpiece **out, const char *path, const tg_wordpiece_opts *opts);
/* The same from memory (len bytes at data, not retained; `name` labels messages, may be NULL). */
tg_status tg_wordpiece_load_buffer(tg_wordpiece **out, const char *data, size_t len, const char *name,
                                   const tg_wordpiece_opts *opts);
/* NULL is a no-op. */
void tg_wordpiece_free(tg_wordpiece *wp);

/* Number of tokens (= lines). */
size_t tg_wordpiece_vocab_size(const tg_wordpiece *wp);
/* Bytes (UTF-8, not NUL-terminated, owned by wp) of token `id`; false when out of range. */
bool tg_wordpiece_token(const tg_wordpiece *wp, int64_t id, const char **s, size_t *len);
/* Id of the token spelt s[0..len), or -1. */
int32_t tg_wordpiece_token_id(const tg_wordpiece *wp, const char *s, size_t len);
/* Id of special token `which` (TG_WP_UNK ...), or -1 when the vocabulary lacks it. */
int32_t tg_wordpiece_special_id(const tg_wordpiece *wp, int which);

/* Encodes one text (tg_text: UTF-8 is checked, TG_ERR_UNICODE with the byte offset;
 * surrogates in UCS-2/UCS-4 are TG_ERR_UNICODE with their index).  out (zero-initialised or
 * reused) receives n ids and, with TG_ENC_OFFSETS, 2 * n offsets.  On failure out->n is 0. */
tg_status tg_wordpiece_encode(const tg_wordpiece *wp, const tg_text *text, int flags, tg_tokens *out);
/* n texts in parallel (OpenMP, tg_get_num_threads(), one thread below 64 K code units);
 * outs[n] are the caller's (zero-initialised or reused; free each with tg_tokens_free, also
 * after a failure).  An error names the first failing text by index; every outs[i].n is
 * 0 then.  Polls tg_interrupted() (TG_ERR_INTERRUPTED). */
tg_status tg_wordpiece_encode_batch(const tg_wordpiece *wp, const tg_text *texts, size_t n, int flags,
                                    tg_tokens *outs);
/* Step 2 alone: the normalised code points [*n] and for each the index of the input
 * character it came from [*n] (CJK ideographs with their two spaces, as tokenizers'
 * BertNormalizer writes them).  Both arrays malloc'd, caller frees (non-NULL on success). */
tg_status tg_wordpiece_normalize(const tg_wordpiece *wp, const tg_text *text, uint32_t **cps, uint32_t **origins,
                                 size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* TG_TOKENIZER_H */
