/*
 * tg_tiktoken.h - byte-level BPE tokenizers from tiktoken rank files (GPT-4's cl100k_base).
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
#ifndef TG_TIKTOKEN_H
#define TG_TIKTOKEN_H

#include "tg_tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads `path` ("base64 rank" lines).  Malformed files are TG_ERR_FORMAT naming the line;
 * unreadable ones TG_ERR_IO.  On success *out owns the tokenizer (tg_tokenizer_free). */
tg_status tg_tokenizer_load_tiktoken(tg_tokenizer **out, const char *path, const char *const *special_tokens,
                                     const int32_t *special_ids, size_t n_special, int pattern);
/* The same from memory (`name` labels messages; the buffer is not retained). */
tg_status tg_tokenizer_load_tiktoken_buffer(tg_tokenizer **out, const char *data, size_t len, const char *name,
                                            const char *const *special_tokens, const int32_t *special_ids,
                                            size_t n_special, int pattern);

#ifdef __cplusplus
}
#endif
#endif /* TG_TIKTOKEN_H */
