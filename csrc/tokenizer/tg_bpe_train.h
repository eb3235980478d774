/*
 * tg_bpe_train.h - training a byte-level BPE vocabulary (GPT-2 style files).
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
 * Ownership and threads: a trainer is used from one thread at a time; feeding counts in
 * parallel itself (OpenMP, opts.threads).  Everything it returns points into the trainer
 * (valid until tg_bpe_trainer_free) unless said otherwise.  Feed functions poll
 * tg_interrupted() from the calling thread (TG_ERR_INTERRUPTED).
 */
#ifndef TG_BPE_TRAIN_H
#define TG_BPE_TRAIN_H

#include "tg_tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * temporary file in dir, flushed to disk and renamed over the target, so a failure leaves
 * no partial file behind (the temporaries are removed). */
tg_status tg_bpe_trainer_save(const tg_bpe_trainer *t, const char *dir);

/* A tokenizer for the trained vocabulary (as tg_tokenizer_load of the saved files). */
tg_status tg_bpe_trainer_tokenizer(const tg_bpe_trainer *t, tg_tokenizer **out);

#ifdef __cplusplus
}
#endif
#endif /* TG_BPE_TRAIN_H */
