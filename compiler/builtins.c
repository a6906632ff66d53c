/* builtins.c — the table of built-in layers, functions, initializers,
 * losses, optimizers, schedules, data sources and metrics.
 *
 * Each row has a signature written as a spec string, parsed once at start-up:
 *
 *     name:kind[range]=default ...
 *
 * kinds: tensor, tensors (all remaining positional tensors), int, float,
 * bool, ints (an int or [a, b]), axes (none, an int or a list), shape (a list
 * of ints), pad (valid, same, an int or [ph, pw]), act (an activation),
 * init (an initializer), enum(a|b), string, metric, any. A range is an
 * interval: [1,] means >= 1, (0,) means > 0, [0,1) means 0 <= v < 1.
 * A parameter without a default is required.
 *
 * Rows of tensor-valued built-ins point at their shape rule (layers.c).
 * docs/language.md lists the same table; `nnc --help-builtins` prints it
 * from here.
 *
 * Requires: layers.c's rules (named in the rows, called by sema.c) and
 * ast.c's builders (the defaults). Calls nothing in sema.c or values.c,
 * which look built-ins up here. Guarantees: after builtins_init(), every
 * row's spec is parsed into its params, defaults as nodes; lookups by
 * name, by kind, and the closest name for "did you mean".
 */
#include <stdlib.h>
#include <string.h>
#include "nnc.h"

/* ----------------------------------------------------------------- table */

#define B(n, k, sp, r, d) {.name = n, .kind = k, .spec = sp, .rule = r, .doc = d}
#define ELEMENTWISE(n, d) B(n, BK_FUNC, "x:tensor", rule_elementwise, d)

static Builtin rows[] = {
  /* layers with parameters */
  B("dense", BK_LAYER,
   "x:tensor units:int[1,] activation:act=none use_bias:bool=true "
   "kernel_init:init=glorot_uniform bias_init:init=zeros",
   rule_dense, "fully connected: x @ W + b over the last axis"),
  B("conv2d", BK_LAYER,
   "x:tensor filters:int[1,] kernel:ints[1,] stride:ints[1,]=1 padding:pad=valid "
   "dilation:ints[1,]=1 groups:int[1,]=1 activation:act=none use_bias:bool=true "
   "kernel_init:init=glorot_uniform bias_init:init=zeros",
   rule_conv2d, "2-D convolution of NHWC images; W is [kh, kw, C/groups, filters]"),
  B("conv2d_transpose", BK_LAYER,
   "x:tensor filters:int[1,] kernel:ints[1,] stride:ints[1,]=1 padding:pad=valid output_padding:ints[0,]=0 "
   "dilation:ints[1,]=1 groups:int[1,]=1 activation:act=none use_bias:bool=true "
   "kernel_init:init=glorot_uniform bias_init:init=zeros",
   rule_conv2d, "transposed 2-D convolution (the gradient of a conv2d for its input): upsamples NHWC images; "
   "W is [kh, kw, filters/groups, C]"),
  B("batch_norm", BK_LAYER,
   "x:tensor momentum:float[0,1]=0.99 epsilon:float(0,)=0.001 center:bool=true scale:bool=true",
   rule_batch_norm, "batch normalization over the last axis, with running statistics"),
  B("layer_norm", BK_LAYER, "x:tensor epsilon:float(0,)=0.00001", rule_layer_norm,
   "layer normalization over the last axis"),
  B("embedding", BK_LAYER, "x:tensor vocab:int[1,] dim:int[1,] init:init=uniform",
   rule_embedding, "looks up rows of W[vocab, dim] for i32 token ids"),
  B("positional_embedding", BK_LAYER, "x:tensor init:init=uniform", rule_positional_embedding,
   "x[N, T, D] + a learned table P[T, D]"),
  B("attention", BK_LAYER,
   "x:tensor heads:int[1,] context:tensor=none causal:bool=false mask:tensor=none "
   "kernel_init:init=glorot_uniform",
   rule_attention, "multi-head scaled dot-product attention of x[N, T, D] over itself or a context"),
  B("transformer_encoder", BK_LAYER,
   "x:tensor heads:int[1,] ff:int[1,] dropout:float[0,1)=0 norm_first:bool=false causal:bool=false "
   "mask:tensor=none ff_activation:act=relu kernel_init:init=glorot_uniform",
   rule_transformer, "a Transformer encoder block: self-attention and a feed-forward, residuals and norms"),
  B("transformer_decoder", BK_LAYER,
   "x:tensor context:tensor heads:int[1,] ff:int[1,] dropout:float[0,1)=0 norm_first:bool=false "
   "context_mask:tensor=none ff_activation:act=relu kernel_init:init=glorot_uniform",
   rule_transformer, "a Transformer decoder block: causal self-attention, attention over the context, a feed-forward"),
#define RECURRENT_SPEC \
  "x:tensor units:int[1,] return_sequences:bool=false reverse:bool=false mask:tensor=none " \
  "kernel_init:init=glorot_uniform recurrent_init:init=glorot_uniform initial_state:any=none"
  B("simple_rnn", BK_LAYER, RECURRENT_SPEC, rule_recurrent,
   "a recurrent layer: h = tanh(x W + h U + b) at each step of x[N, steps, features]"),
  B("lstm", BK_LAYER, RECURRENT_SPEC, rule_recurrent,
   "long short-term memory over x[N, steps, features]: input, forget, cell and output gates"),
  B("gru", BK_LAYER, RECURRENT_SPEC " reset_after:bool=false", rule_recurrent,
   "gated recurrent unit over x[N, steps, features]: update and reset gates (reset_after: PyTorch's and Keras 2's)"),

  /* functions of tensors */
  /* (relu, sigmoid, tanh, exp, log, ...: the rows of ops.h with a function
   * name, added by builtins_init) */
  ELEMENTWISE("gelu", "x * Phi(x), with the exact erf (as Keras and PyTorch)"),
  ELEMENTWISE("softplus", "log(1 + exp(x))"),
  ELEMENTWISE("swish", "x * sigmoid(x)"),
  B("leaky_relu", BK_FUNC, "x:tensor alpha:float[0,)=0.01", rule_elementwise,
   "x if x > 0 else alpha * x"),
  B("elu", BK_FUNC, "x:tensor alpha:float[0,)=1.0", rule_elementwise,
   "x if x > 0 else alpha * (exp(x) - 1)"),
  B("softmax", BK_FUNC, "x:tensor axis:int=-1", rule_softmax, "exp(x) / sum(exp(x)) along axis"),
  B("log_softmax", BK_FUNC, "x:tensor axis:int=-1", rule_softmax, "log(softmax(x)), stably"),
  B("dropout", BK_FUNC, "x:tensor rate:float[0,1)", rule_dropout,
   "zeroes a fraction `rate` of x while training (inverted scaling)"),
  B("sum", BK_FUNC, "x:tensor axis:axes=none keepdims:bool=false", rule_reduce,
   "sum over axes (all when none)"),
  B("mean", BK_FUNC, "x:tensor axis:axes=none keepdims:bool=false", rule_reduce,
   "mean over axes (all when none)"),
  B("max", BK_FUNC, "x:tensor axis:axes=none keepdims:bool=false", rule_reduce,
   "maximum over axes (all when none)"),
  B("argmax", BK_FUNC, "x:tensor axis:int=-1", rule_argmax,
   "index of the maximum along axis (i32; not differentiable)"),
  B("float", BK_FUNC, "x:tensor", rule_convert,
   "converts to floating point (integers are not differentiable)"),
  B("f32", BK_FUNC, "x:tensor", rule_convert, "converts to f32 (rounded to nearest)"),
  B("f64", BK_FUNC, "x:tensor", rule_convert, "converts to f64 (exactly)"),
  B("int", BK_FUNC, "x:tensor", rule_convert,
   "converts to i32: toward zero, saturated at the bounds, NaN as 0 (not differentiable)"),
  B("flatten", BK_FUNC, "x:tensor", rule_flatten, "[N, a, b, ...] -> [N, a*b*...]"),
  B("reshape", BK_FUNC, "x:tensor shape:shape", rule_reshape,
   "new shape of each sample (one entry may be -1)"),
  B("transpose", BK_FUNC, "x:tensor perm:axes=none", rule_transpose,
   "permutes axes; the batch axis stays first"),
  B("concat", BK_FUNC, "xs:tensors axis:int=-1", rule_concat, "joins tensors along axis"),
  B("slice", BK_FUNC, "x:tensor axis:int start:int end:int=none", rule_slice,
   "elements start..end-1 along axis"),
  B("pad", BK_FUNC, "x:tensor axis:int before:int[0,] after:int[0,]=0 mode:enum(constant|reflect|edge)=constant value:float=0",
    rule_pad, "x grown along axis: the value, the edge's value or x mirrored (without the edge)"),
  B("resize", BK_FUNC,
    "x:tensor axis:int size:int[1,] mode:enum(nearest|linear)=nearest "
    "coordinates:enum(half_pixel|pytorch_half_pixel|align_corners|asymmetric)=half_pixel "
    "nearest:enum(round_prefer_floor|round_prefer_ceil|floor|ceil)=round_prefer_floor",
    rule_resize, "x's axis resampled to size cells, as ONNX's Resize (nearest or linear)"),
  B("max_pool2d", BK_FUNC, "x:tensor size:ints[1,]=2 stride:ints[1,]=none padding:pad=valid dilation:ints[1,]=1",
   rule_pool2d, "maximum over windows of NHWC images"),
  B("avg_pool2d", BK_FUNC, "x:tensor size:ints[1,]=2 stride:ints[1,]=none padding:pad=valid dilation:ints[1,]=1",
   rule_pool2d, "mean over windows of NHWC images"),
  B("positional_encoding", BK_FUNC, "x:tensor", rule_positional_encoding,
   "x[N, T, D] + the sinusoidal table of the Transformer"),
  B("global_avg_pool2d", BK_FUNC, "x:tensor", rule_global_pool, "[N, H, W, C] -> [N, C]"),

  /* initializers */
  B("zeros", BK_INIT, "", NULL, "all 0"),
  B("ones", BK_INIT, "", NULL, "all 1"),
  B("constant", BK_INIT, "value:float", NULL, "all `value`"),
  B("uniform", BK_INIT, "low:float=-0.05 high:float=0.05", NULL, "uniform in [low, high)"),
  B("normal", BK_INIT, "mean:float=0 stddev:float[0,)=0.05", NULL, "normal(mean, stddev)"),
  B("glorot_uniform", BK_INIT, "", NULL, "uniform, limit sqrt(6 / (fan_in + fan_out))"),
  B("glorot_normal", BK_INIT, "", NULL, "truncated normal, stddev sqrt(2 / (fan_in + fan_out))"),
  B("he_uniform", BK_INIT, "", NULL, "uniform, limit sqrt(6 / fan_in)"),
  B("he_normal", BK_INIT, "", NULL, "truncated normal, stddev sqrt(2 / fan_in)"),
  B("lecun_uniform", BK_INIT, "", NULL, "uniform, limit sqrt(3 / fan_in)"),
  B("lecun_normal", BK_INIT, "", NULL, "truncated normal, stddev sqrt(1 / fan_in)"),

  /* losses */
  B("binary_crossentropy", BK_LOSS, "from_logits:bool=false", NULL,
   "-(y log p + (1 - y) log(1 - p)), mean over the batch"),
  B("categorical_crossentropy", BK_LOSS, "from_logits:bool=false", NULL,
   "-sum(y log p) with one-hot labels"),
  B("sparse_categorical_crossentropy", BK_LOSS, "from_logits:bool=false ignore_label:int=none", NULL,
   "-log p[label] with integer labels; a label equal to ignore_label (padding) counts for nothing"),
  B("mse", BK_LOSS, "", NULL, "mean squared error"),
  B("mae", BK_LOSS, "", NULL, "mean absolute error"),
  B("huber", BK_LOSS, "delta:float(0,)=1.0", NULL, "squared below delta, linear above"),

  /* optimizers */
  B("sgd", BK_OPTIMIZER,
   "lr:float(0,)=0.01 momentum:float[0,1)=0 nesterov:bool=false "
   "clip_norm:float(0,)=none clip_value:float(0,)=none",
   NULL, "stochastic gradient descent, optionally with (Nesterov) momentum"),
  B("adam", BK_OPTIMIZER,
   "lr:float(0,)=0.001 beta1:float[0,1)=0.9 beta2:float[0,1)=0.999 epsilon:float(0,)=1e-7 "
   "clip_norm:float(0,)=none clip_value:float(0,)=none",
   NULL, "Adam; epsilon as Keras (PyTorch uses 1e-8)"),
  B("adamw", BK_OPTIMIZER,
   "lr:float(0,)=0.001 beta1:float[0,1)=0.9 beta2:float[0,1)=0.999 epsilon:float(0,)=1e-7 "
   "weight_decay:float[0,)=0.01 clip_norm:float(0,)=none clip_value:float(0,)=none",
   NULL, "Adam with decoupled weight decay (PyTorch's default decay 0.01)"),
  B("rmsprop", BK_OPTIMIZER,
   "lr:float(0,)=0.001 rho:float[0,1)=0.9 momentum:float[0,1)=0 epsilon:float(0,)=1e-7 "
   "clip_norm:float(0,)=none clip_value:float(0,)=none",
   NULL, "RMSprop"),
  B("adagrad", BK_OPTIMIZER,
   "lr:float(0,)=0.001 initial_accumulator:float[0,)=0.1 epsilon:float(0,)=1e-7 "
   "clip_norm:float(0,)=none clip_value:float(0,)=none",
   NULL, "Adagrad"),

  /* learning-rate schedules (counted in epochs) */
  B("step", BK_SCHEDULE, "every:int[1,] factor:float(0,1]=0.1", NULL,
   "multiply the rate by factor every `every` epochs"),
  B("exponential", BK_SCHEDULE, "rate:float(0,1] every:int[1,]=1", NULL,
   "lr * rate^(epoch / every)"),
  B("cosine", BK_SCHEDULE, "epochs:int[1,] min_lr:float[0,)=0", NULL,
   "cosine decay to min_lr over `epochs`"),
  B("warmup", BK_SCHEDULE, "epochs:int[1,]", NULL, "linear warm-up from 0 over `epochs`"),

  /* data sources */
  B("csv", BK_DATA,
   "path:string label:any=last header:bool=false delimiter:string=, scale:float(0,)=1 "
   "one_hot:bool=false normalize:bool=false weight:any=none",
   NULL, "a table; label is last, first or a column number; normalize standardizes each "
   "feature with the training rows' mean and deviation; weight: a column of per-sample weights "
   "(sample_weights true)"),
  B("idx", BK_DATA,
   "images:string labels:string scale:float(0,)=1 one_hot:bool=false normalize:bool=false", NULL,
   "IDX files (the MNIST format); normalize standardizes each channel (the input's last axis) "
   "with the training samples' mean and deviation"),
  B("npy", BK_DATA, "x:any y:any scale:float(0,)=1 one_hot:bool=false normalize:bool=false w:any=none",
   NULL, "NumPy .npy arrays (float32, float64, uint8; labels also int32, int64): x, y a file each, or a list "
   "of files, one per input and one per output; normalize as idx; "
   "w: an array of per-sample weights (sample_weights true)"),
  B("text", BK_DATA, "path:string steps:int[1,] stride:int[1,]=none", NULL,
   "a text file as bytes: sequences of `steps` token ids 0..255, labelled with the next character at each; "
   "row r starts at byte r * stride (none: steps, windows that do not overlap)"),
  B("cifar10", BK_DATA, "path:string scale:float(0,)=1 one_hot:bool=false normalize:bool=false", NULL,
   "CIFAR-10 binary batches: one .bin file, or the archive's directory (data_batch_1..5.bin) "
   "as 32x32x3 images; normalize as idx"),

  /* augmentations of training images (HWC), seeded */
  B("flip", BK_AUGMENT, "", NULL, "mirror each training image left to right with probability 1/2"),
  B("crop", BK_AUGMENT, "padding:int[1,]=4", NULL,
   "pad by `padding` zero pixels on each side and cut a random window of the image's size"),

  /* metrics */
  B("accuracy", BK_METRIC, "", NULL, "fraction of correct predictions"),
  B("binary_accuracy", BK_METRIC, "", NULL, "accuracy with a 0.5 threshold"),
  B("categorical_accuracy", BK_METRIC, "", NULL, "argmax accuracy against one-hot labels"),
  B("sparse_categorical_accuracy", BK_METRIC, "", NULL, "argmax accuracy against integer labels"),
  B("precision", BK_METRIC, "", NULL, "true positives / predicted positives (binary)"),
  B("recall", BK_METRIC, "", NULL, "true positives / actual positives (binary)"),
  B("mse", BK_METRIC, "", NULL, "mean squared error"),
  B("mae", BK_METRIC, "", NULL, "mean absolute error"),

  /* callbacks of the training program (see settings.c, runtime/nnrt_callbacks.c) */
  B("plateau", BK_STOPPER, "monitor:monitor patience:int[0,]=0 min_delta:float[0,)=0 restore_best:bool=false",
   NULL, "stop once `monitor` has not improved by more than min_delta for `patience` epochs "
   "(Keras's EarlyStopping)"),
  B("plateau", BK_REDUCER,
   "monitor:monitor factor:float(0,1)=0.1 patience:int[0,]=10 min_lr:float[0,)=0 min_delta:float[0,)=0.0001 "
   "cooldown:int[0,]=0",
   NULL, "multiply the rate by `factor` once `monitor` has not improved by more than min_delta for "
   "`patience` epochs (Keras's ReduceLROnPlateau)"),
  B("best", BK_SAVER, "monitor:monitor path:any=none", NULL,
   "write a checkpoint each time `monitor` improves (Keras's ModelCheckpoint with save_best_only)"),

  /* pruning during training (train.c's masks, runtime/nnrt_prune.c's schedule) */
  B("magnitude", BK_PRUNER, "sparsity:float[0,1) begin:int[1,]=1 end:int[1,]=none", NULL,
   "set the smallest weights (by absolute value) of each kernel to zero, and keep them there, "
   "reaching `sparsity` at epoch `end` on a polynomial schedule from epoch `begin` "
   "(none: half the epochs); the epochs after `end` fine-tune the rest"),
};

enum { NROWS = sizeof rows / sizeof rows[0] };

/* The rows, then a function for each row of ops.h that names one. */
static Builtin *table;
static int NBUILTINS;

/* ------------------------------------------------------ spec parsing */

static const struct { const char *name; ParamKind kind; } kinds[] = {
  {"tensor", PK_TENSOR}, {"tensors", PK_TENSORS}, {"int", PK_INT}, {"float", PK_FLOAT},
  {"bool", PK_BOOL}, {"ints", PK_INTS}, {"axes", PK_AXES}, {"shape", PK_SHAPE},
  {"pad", PK_PAD}, {"act", PK_ACT}, {"init", PK_INIT}, {"enum", PK_ENUM},
  {"string", PK_STRING}, {"metric", PK_METRIC}, {"any", PK_ANY},
  {"monitor", PK_MONITOR},
};

static Node *default_node(const char *text) {
  Loc none = {0};
  char *end;
  if (text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) {
    long long i = strtoll(text, &end, 10);
    if (*end == '\0') return ast_int(none, i);
    double f = strtod(text, &end);
    if (*end == '\0') return ast_float(none, f);
  }
  if (!strcmp(text, ",")) return ast_string(none, ",");
  return ast_name(none, text);
}

static void parse_spec(Builtin *b) {
  const char *p = b->spec;
  while (*p) {
    while (*p == ' ') p++;
    if (!*p) break;
    const char *end = strchr(p, ' ');
    if (!end) end = p + strlen(p);
    char *item = arena_strndup(p, (size_t)(end - p));
    p = end;
    if (b->nparams >= (int)(sizeof b->params / sizeof b->params[0]))
      bug("too many parameters in the spec of '%s'", b->name);
    BParam *bp = &b->params[b->nparams++];
    char *colon = strchr(item, ':');
    if (!colon) bug("spec of '%s': '%s' has no kind", b->name, item);
    *colon = '\0';
    bp->name = item;
    char *kind = colon + 1;
    char *eq = strchr(kind, '=');
    if (eq) {
      *eq = '\0';
      bp->dflt = default_node(eq + 1);
    }
    char *range = strpbrk(kind, "[(");
    if (!strncmp(kind, "enum(", 5)) {
      char *close = strchr(kind, ')');
      if (!close) bug("spec of '%s': bad enum", b->name);
      bp->enums = arena_strndup(kind + 5, (size_t)(close - kind - 5));
      range = NULL;
      kind[4] = '\0';
    } else if (range) {
      bp->lo_open = *range == '(';
      char *comma = strchr(range, ','), *close = strpbrk(range, "])");
      if (!comma || !close) bug("spec of '%s': bad range", b->name);
      bp->hi_open = *close == ')';
      if (comma > range + 1) bp->has_lo = true, bp->lo = strtod(range + 1, NULL);
      if (close > comma + 1) bp->has_hi = true, bp->hi = strtod(comma + 1, NULL);
      *range = '\0';
    }
    bool found = false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
      if (!strcmp(kind, kinds[i].name)) bp->kind = kinds[i].kind, found = true;
    if (!found) bug("spec of '%s': unknown kind '%s'", b->name, kind);
    bp->variadic = bp->kind == PK_TENSORS;
  }
}

void builtins_init(void) {
  static bool done;
  if (done) return;
  done = true;
  arena_permanent(true);
  table = arena_alloc(sizeof(Builtin) * (NROWS + NUM_OPS));
  memcpy(table, rows, sizeof rows);
  NBUILTINS = NROWS;
  for (int op = 0; op < NUM_OPS; op++)
    if (op_info[op].fn)
      table[NBUILTINS++] = (Builtin)B(op_info[op].fn, BK_FUNC,
                                      op_info[op].arity == 1 ? "x:tensor" : op_info[op].arity == 2 ? "a:any b:any" : "c:any a:any b:any",
                                      rule_op, op_info[op].doc);
  for (int i = 0; i < NBUILTINS; i++) parse_spec(&table[i]);
  arena_permanent(false);
}

/* Metrics and losses share names (mse, mae): a lookup names the kind. */
const Builtin *builtin_find_kind(const char *name, BuiltinKind kind) {
  for (int i = 0; i < NBUILTINS; i++)
    if (table[i].kind == kind && !strcmp(table[i].name, name)) return &table[i];
  return NULL;
}

const Builtin *builtin_find(const char *name) {
  for (int i = 0; i < NBUILTINS; i++)
    if (!strcmp(table[i].name, name) &&
        (table[i].kind == BK_LAYER || table[i].kind == BK_FUNC))
      return &table[i];
  return NULL;
}

const Builtin *builtin_suggest(const char *name, BuiltinKind kind) {
  const Builtin *best = NULL;
  int best_d = 3;
  for (int i = 0; i < NBUILTINS; i++) { /* Keras's or PyTorch's name for it first */
    bool fits = table[i].kind == kind || (kind == BK_FUNC && table[i].kind == BK_LAYER);
    if (fits && strcmp(name, table[i].name) != 0 && name_alias(name, table[i].name)) return &table[i];
  }
  for (int i = 0; i < NBUILTINS; i++) {
    bool fits = table[i].kind == kind ||
                (kind == BK_FUNC && table[i].kind == BK_LAYER);
    if (!fits) continue;
    int d = edit_distance(name, table[i].name);
    if (d < best_d || (d <= (int)strlen(name) / 3 && d < best_d)) best_d = d, best = &table[i];
  }
  return best;
}

const char *builtin_kind_names(BuiltinKind kind) {
  char *out = "";
  for (int i = 0; i < NBUILTINS; i++)
    if (table[i].kind == kind) out = arena_printf("%s%s%s", out, *out ? ", " : "", table[i].name);
  return out;
}

/* An activation is an elementwise function of one tensor with defaults for
 * the rest (relu, leaky_relu, softmax, ...). */
bool builtin_is_activation(const char *name) {
  const Builtin *b = builtin_find(name);
  if (!b || b->kind != BK_FUNC || b->nparams < 1 || b->params[0].kind != PK_TENSOR) return false;
  for (int i = 1; i < b->nparams; i++)
    if (!b->params[i].dflt) return false;
  return b->rule == rule_elementwise || b->rule == rule_op || b->rule == rule_softmax;
}

static const char *kind_title(BuiltinKind k) {
  switch (k) {
  case BK_LAYER: return "Layers (with parameters)";
  case BK_FUNC: return "Functions of tensors";
  case BK_INIT: return "Initializers";
  case BK_LOSS: return "Losses";
  case BK_OPTIMIZER: return "Optimizers";
  case BK_SCHEDULE: return "Learning-rate schedules";
  case BK_DATA: return "Data sources";
  case BK_AUGMENT: return "Augmentations";
  case BK_METRIC: return "Metrics";
  case BK_STOPPER: return "Early stopping";
  case BK_REDUCER: return "Learning-rate reduction";
  case BK_SAVER: return "Best checkpoints";
  case BK_PRUNER: return "Pruning";
  }
  return "?";
}

void print_builtins(FILE *out) {
  for (int k = BK_LAYER; k <= BK_LAST; k++) {
    fprintf(out, "%s%s:\n", k == BK_LAYER ? "" : "\n", kind_title((BuiltinKind)k));
    for (int i = 0; i < NBUILTINS; i++) {
      if (table[i].kind != (BuiltinKind)k) continue;
      fprintf(out, "  %s(", table[i].name);
      for (int j = 0; j < table[i].nparams; j++) {
        const BParam *p = &table[i].params[j];
        fprintf(out, "%s%s", j ? ", " : "", p->name);
        if (p->dflt) fprintf(out, " = %s", p->dflt->kind == ND_STRING ? "\",\"" : expr_str(p->dflt));
      }
      fprintf(out, ")\n      %s\n", table[i].doc);
    }
  }
}
