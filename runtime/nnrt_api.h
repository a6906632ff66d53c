/* nnrt_api.h — a compiled model's API, written once. A library exports
 * M_name for each row, one call of the runtime's nnrt_model_name with
 * the same arguments (and the model's table first where `def`); the
 * runtime's prototypes (nnrt.h), the C backend's wrappers and library
 * header, and the LLVM backend's wrappers all come from these rows
 * (include this file with NNRT_MODEL_FN defined).
 *
 * Each row: NNRT_MODEL_FN(ret, name, params, args, def, graph, sig, doc)
 *   ret, params  the library function's type and parameters, NnrtModel
 *                being M_Model there;
 *   args         its arguments, passed on;
 *   def          1 when the runtime's function takes the model's
 *                `const NnrtModelDef *def` first;
 *   graph        the graph it needs (NNRT_TRAIN, NNRT_EVAL, NNRT_INFER,
 *                NNRT_ATTR, NNRT_LAYERS; -1: none), without which a
 *                library leaves it out;
 *   sig          the types for the LLVM backend, the return type first:
 *                p pointer, l int64_t or size_t, i int, d double, v void;
 *   doc          its comment in the library's header.
 * The comments between the rows say more about the runtime's functions;
 * docs/c-api.md has the whole contract. */

/* A new instance: every tensor from its initializer, parameter i drawing
 * from (seed, stream i), state i from (seed, stream 2^20 + i). */
NNRT_MODEL_FN(NnrtModel *, create, (uint64_t seed), (seed), 1, -1, "pl",
              "a new instance, its parameters from their initializers; NULL when memory runs out")
NNRT_MODEL_FN(void, free, (NnrtModel *m), (m), 0, -1, "vp", "frees an instance (NULL is allowed)")
NNRT_MODEL_FN(const char *, last_error, (const NnrtModel *m), (m), 0, -1, "pp",
              "why the instance's last call failed, \"\" after a success; with m NULL, why\n"
              " * the calling thread's last call without an instance (create, arena_bytes) failed")
/* Settings of an instance: threads in [0, NNRT_MAX_THREADS] (0: OpenMP's
 * default), a finite learning rate > 0 (the schedules start from it), the
 * epoch (>= 0) that schedules and checkpoints see. */
NNRT_MODEL_FN(int, set_threads, (NnrtModel *m, int threads), (m, threads), 0, -1, "ipi",
              "threads for the instance's loops, 0 (OpenMP's default) to 1024; 0 or -1")
NNRT_MODEL_FN(int, set_lr, (NnrtModel *m, double lr), (m, lr), 0, -1, "ipd",
              "the learning rate the schedules start from, finite and > 0; 0 or -1")
NNRT_MODEL_FN(int, set_epoch, (NnrtModel *m, int64_t epoch), (m, epoch), 0, -1, "ipl",
              "the epoch (>= 0) that learning-rate schedules see; 0 or -1")
/* A training step (the step counter first counts it) or an evaluation:
 * the batch's loss, or NaN for an error (a NaN loss with an empty
 * nnrt_model_last_error is the model's own). Inference: the first
 * output, or NULL. */
NNRT_MODEL_FN(const void *, predict, (NnrtModel *m, const void *const *inputs, int64_t n), (m, inputs, n), 0,
              NNRT_INFER, "pppl", "the first output for n samples, valid until the next call; NULL on an error")
NNRT_MODEL_FN(double, train_step, (NnrtModel *m, const void *const *inputs, const void *label, int64_t n),
              (m, inputs, label, n), 0, NNRT_TRAIN, "dpppl",
              "one training step over n samples: the batch's loss, or NaN on an error")
NNRT_MODEL_FN(double, evaluate, (NnrtModel *m, const void *const *inputs, const void *label, int64_t n),
              (m, inputs, label, n), 0, NNRT_EVAL, "dpppl", "the loss in inference mode, no update; NaN on an error")
/* Several inputs and outputs: every output copied into the caller's
 * buffers (outputs[i] for output i, in the order, types and shapes of the
 * descriptor, the batch dimension n), and steps and evaluations with one
 * label for each output (labels[i], as label i of the descriptor's
 * labels) and per-sample weights (NULL: each sample weighs 1). The
 * one-label functions above are these with labels = {label}, for a
 * model with one output. */
NNRT_MODEL_FN(int, predict_outputs, (NnrtModel *m, const void *const *inputs, void *const *outputs, int64_t n),
              (m, inputs, outputs, n), 0, NNRT_INFER, "ipppl",
              "every output for n samples into outputs[i] (the descriptor's order, types and\n"
              " * shapes, n for the batch dimension); 0, or -1 on an error")
NNRT_MODEL_FN(double, train_step_outputs,
              (NnrtModel *m, const void *const *inputs, const void *const *labels, const float *sample_weight,
               int64_t n),
              (m, inputs, labels, sample_weight, n), 0, NNRT_TRAIN, "dppppl",
              "one training step with labels[i] the target of output i and sample_weight[n]\n"
              " * (NULL: every sample weighs 1): the batch's loss, or NaN on an error")
NNRT_MODEL_FN(double, evaluate_outputs,
              (NnrtModel *m, const void *const *inputs, const void *const *labels, const float *sample_weight,
               int64_t n),
              (m, inputs, labels, sample_weight, n), 0, NNRT_EVAL, "dppppl",
              "the loss in inference mode with a label per output, no update; NaN on an error")
/* Checkpoints (nnrt_save, nnrt_load): every tensor, the counters, the seed
 * and the program's place; or only the weights. Loading a weights-only
 * file resets the optimizer's slots and the counters, as at creation. */
NNRT_MODEL_FN(int, save, (NnrtModel *m, const char *path, char *err, size_t errlen), (m, path, err, errlen), 0, -1,
              "ipppl", "a checkpoint: weights, optimizer state, counters; 0, or -1 with the reason in err")
NNRT_MODEL_FN(int, save_weights, (NnrtModel *m, const char *path, char *err, size_t errlen), (m, path, err, errlen),
              0, -1, "ipppl", "the weights and the model's states only (for inference, or to start a new training)")
NNRT_MODEL_FN(int, save_sparse, (NnrtModel *m, const char *path, char *err, size_t errlen), (m, path, err, errlen),
              0, -1, "ipppl", "as save_weights, each tensor that is smaller so (pruned) as its nonzero values\n"
              " * and a bitmap: the compact file for deployment, which load and nnc --weights read")
NNRT_MODEL_FN(int, load, (NnrtModel *m, const char *path, char *err, size_t errlen), (m, path, err, errlen), 0, -1,
              "ipppl", "a checkpoint or a weights file; 0, or -1 with the reason in err, and nothing changed")
NNRT_MODEL_FN(int, get_param, (NnrtModel *m, const char *name, void *out, size_t bytes), (m, name, out, bytes), 0, -1,
              "ipppl", "copies parameter or state `name` (\"dense1.W\") out; bytes is its exact size; 0 or -1")
NNRT_MODEL_FN(int, set_param, (NnrtModel *m, const char *name, const void *in, size_t bytes), (m, name, in, bytes),
              0, -1, "ipppl", "and in")
/* Each token is predicted from the last T tokens so far (fewer at the
 * start: the rest of the window is 0, which a causal model does not see)
 * at position L - 1; draws come from nnrt_uniform(seed, 0x67656e, i). */
NNRT_MODEL_FN(int, generate,
              (NnrtModel *m, const int32_t *prompt, int64_t len, int64_t count, double temperature, uint64_t seed,
               int32_t *out),
              (m, prompt, len, count, temperature, seed, out), 0, -1, "ipplldlp",
              "a language model (token ids [T] in, scores [T, classes] out, causal)\n"
              " * continues prompt[0..len) by count tokens into out: the most likely\n"
              " * at temperature 0, else drawn from softmax(log p / temperature) with\n"
              " * seed. Returns 0, or -1 for another kind of model or bad arguments")
/* Looking inside (docs/interpret.md): a target is an index into one
 * sample of the first output (a class), NULL for each sample's largest
 * value there; out[i] receives the attribution of input i in its type and
 * layout (NULL: not wanted; an input of token ids has none). */
NNRT_MODEL_FN(int, saliency,
              (NnrtModel *m, const void *const *inputs, int64_t n, const int32_t *target, void *const *out),
              (m, inputs, n, target, out), 0, NNRT_ATTR, "ipplpp",
              "the gradient of each sample's target output (target[i] indexes sample\n"
              " * i of output 0; NULL: its largest) with respect to input j into out[j]\n"
              " * (NULL: not wanted), by the compiled backward pass; 0 or -1")
NNRT_MODEL_FN(int, integrated_gradients,
              (NnrtModel *m, const void *const *inputs, const void *const *baseline, int64_t n,
               const int32_t *target, int64_t steps, void *const *out),
              (m, inputs, baseline, n, target, steps, out), 0, NNRT_ATTR, "ippplplp",
              "integrated gradients from baseline (NULL or baseline[j] NULL: zeros) to the\n"
              " * inputs, the right Riemann sum over steps (1 to 100000) points; 0 or -1")
NNRT_MODEL_FN(int, gradcam,
              (NnrtModel *m, const void *const *inputs, int64_t n, const char *layer, const int32_t *target,
               float *out),
              (m, inputs, n, layer, target, out), 0, NNRT_ATTR, "ipplppp",
              "Grad-CAM on feature map `layer` ([N, H, W, C], e.g. \"conv2d2\"): out[n, H, W] =\n"
              " * relu(sum over c of mean(d target / d map_c) * map_c); 0 or -1")
NNRT_MODEL_FN(int, activation,
              (NnrtModel *m, const void *const *inputs, int64_t n, const char *layer, void *out, size_t bytes),
              (m, inputs, n, layer, out, bytes), 0, NNRT_LAYERS, "ipplppl",
              "the value of layer `layer` (M_describe()->layers: \"conv2d1\", a named\n"
              " * statement) for n samples, computed anew, into out of exactly its bytes; 0 or -1")
/* In the runtime: 0 also when threads is outside [0, NNRT_MAX_THREADS]
 * or n above max_batch (the reason in the per-thread message). */
NNRT_MODEL_FN(size_t, arena_bytes, (int64_t n, int threads), (n, threads), 1, -1, "lli",
              "the one arena of activations, gradients and temporaries a step over n\n"
              " * samples at `threads` threads (0: OpenMP's default) uses, planned at\n"
              " * compile time; 0 when n or threads is out of range")
NNRT_MODEL_FN(size_t, workspace_bytes, (const NnrtModel *m), (m), 0, -1, "lp",
              "what the instance holds: it grows to the largest batch seen, then a step allocates nothing")
