#include "reduce_internal.h"
tg_status tg_tsne(const tg_view *x, const tg_tsne_options *opt, double *y, double *kl, size_t *n_iter){(void)x;(void)opt;(void)y;(void)kl;(void)n_iter;return TG_ERR_INTERNAL;}
tg_status tg_tsne_affinities(const tg_view *x, const tg_tsne_options *opt, size_t **indptr, size_t **indices, double **values){(void)x;(void)opt;(void)indptr;(void)indices;(void)values;return TG_ERR_INTERNAL;}
tg_status tg_trustworthiness(const tg_view *x, const tg_view *emb, size_t k, double *out){(void)x;(void)emb;(void)k;(void)out;return TG_ERR_INTERNAL;}
