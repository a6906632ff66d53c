/* ops.h — the one op table of the tensor IR.
 *
 * Each row: OP(ID, name, arity, class, attrs, semantics). The enum, the names
 * used by the printer and the parser, the arities checked by the verifier and
 * the classes used by passes all derive from it (include it with OP defined).
 *
 * Ops built on comparisons propagate NaN (docs/ir.md, "Ops"): the
 * evaluator, the C and LLVM backends and the runtime's pooling agree.
 * Elementwise ops broadcast their operands as numpy does; the batch dimension
 * N broadcasts only against itself and 1. `attrs` names the integer
 * attributes in order (a[0], a[1], ...); `f` is the one float attribute.
 * Shapes are NHWC for images and HWIO for convolution weights.
 */

/* leaves: the graph's interface */
OP(INPUT,      "input",      0, CL_LEAF,     "index",            "model input number `index`")
OP(LABEL,      "label",      0, CL_LEAF,     "",                 "the training target of a batch")
OP(PARAM,      "param",      0, CL_LEAF,     "index",            "trainable parameter `index`")
OP(STATE,      "state",      0, CL_LEAF,     "index",            "non-trainable state `index` (running statistics, optimizer slots)")
OP(SCALAR,     "scalar",     0, CL_LEAF,     "which",            "a run-time scalar: 0 batch size, 1 step (from 1), 2 epoch (from 0), 3 seed, 4 learning rate")
OP(CONST,      "const",      0, CL_LEAF,     "",                 "every element equals f")
OP(DROPMASK,   "dropmask",   2, CL_LEAF,     "instance",         "(seed, step) -> 0 or 1/(1-f) per element, keep probability 1-f, counter-based RNG")
OP(IOTA,       "iota",       0, CL_LEAF,     "axis",             "every element equals its index along axis (attention's causal mask)")
/* elementwise, one operand */
OP(NEG,        "neg",        1, CL_UNARY,    "",                 "-x")
OP(EXP,        "exp",        1, CL_UNARY,    "",                 "e^x")
OP(LOG,        "log",        1, CL_UNARY,    "",                 "natural logarithm")
OP(LOG1P,      "log1p",      1, CL_UNARY,    "",                 "log(1 + x), exact near 0")
OP(SQRT,       "sqrt",       1, CL_UNARY,    "",                 "square root")
OP(ABS,        "abs",        1, CL_UNARY,    "",                 "|x|")
OP(SIGN,       "sign",       1, CL_UNARY,    "",                 "-1, 0 or 1; NaN for NaN")
OP(RELU,       "relu",       1, CL_UNARY,    "",                 "max(x, 0); NaN for NaN, +0 for -0")
OP(STEP,       "step",       1, CL_UNARY,    "",                 "1 if x > 0, 0 if x <= 0, NaN for NaN")
OP(SIGMOID,    "sigmoid",    1, CL_UNARY,    "",                 "1 / (1 + e^-x), stable for large |x|")
OP(TANH,       "tanh",       1, CL_UNARY,    "",                 "hyperbolic tangent")
OP(ERF,        "erf",        1, CL_UNARY,    "",                 "error function")
OP(COS,        "cos",        1, CL_UNARY,    "",                 "cosine")
OP(FLOOR,      "floor",      1, CL_UNARY,    "",                 "largest integer <= x")
OP(CAST,       "cast",       1, CL_UNARY,    "",                 "conversion to the result's element type")
/* elementwise, two or three operands */
OP(ADD,        "add",        2, CL_BINARY,   "",                 "a + b")
OP(SUB,        "sub",        2, CL_BINARY,   "",                 "a - b")
OP(MUL,        "mul",        2, CL_BINARY,   "",                 "a * b")
OP(DIV,        "div",        2, CL_BINARY,   "",                 "a / b")
OP(MAX,        "max",        2, CL_BINARY,   "",                 "larger of a and b (a when equal); the first NaN operand if any")
OP(MIN,        "min",        2, CL_BINARY,   "",                 "smaller of a and b (a when equal); the first NaN operand if any")
OP(POW,        "pow",        2, CL_BINARY,   "",                 "a^b")
OP(GT,         "gt",         2, CL_BINARY,   "",                 "1 if a > b, 0 if a <= b, else the first NaN operand")
OP(SELECT,     "select",     3, CL_TERNARY,  "",                 "b if c != 0 else d, c if c is NaN  (operands c, b, d)")
/* reductions */
OP(SUM,        "sum",        1, CL_REDUCE,   "axes...",          "sum over the listed axes, which are removed")
OP(RMAX,       "rmax",       1, CL_REDUCE,   "axes...",          "maximum over the listed axes, which are removed; NaN if one is NaN")
OP(SOFTMAX,    "softmax",    1, CL_REDUCE,   "axis",             "e^x / sum(e^x) along axis, computed from x - max")
OP(LOGSOFTMAX, "logsoftmax", 1, CL_REDUCE,   "axis",             "x - max - log(sum(e^(x - max))) along axis")
OP(ARGMAX,     "argmax",     1, CL_REDUCE,   "axis",             "index of the first maximum along axis, or of the first NaN (i32)")
/* contraction */
OP(MATMUL,     "matmul",     2, CL_CONTRACT, "",                 "[..., m, k] @ [..., k, n] -> [..., m, n], leading axes broadcast")
/* data movement */
OP(RESHAPE,    "reshape",    1, CL_MOVE,     "",                 "same elements in row-major order, the result's shape")
OP(TRANSPOSE,  "transpose",  1, CL_MOVE,     "perm...",          "result axis i is operand axis perm[i]")
OP(EXPAND,     "expand",     1, CL_MOVE,     "",                 "broadcast to the result's shape")
OP(SLICE,      "slice",      1, CL_MOVE,     "axis start end",   "elements start..end-1 along axis")
OP(PAD,        "pad",        1, CL_MOVE,     "axis before after","zeros added before and after along axis")
OP(CONCAT,     "concat",     2, CL_MOVE,     "axis",             "a then b along axis")
OP(GATHER,     "gather",     2, CL_MOVE,     "",                 "rows of table[V, D] picked by ids[...] -> [..., D]")
OP(SCATTERADD, "scatteradd", 2, CL_MOVE,     "rows",             "(ids[...], upd[..., D]) -> [rows, D], upd summed into row ids")
OP(ONEHOT,     "onehot",     1, CL_MOVE,     "depth",            "ids[...] -> [..., depth] of 0 and 1")
/* windows over NHWC images */
OP(CONV2D,     "conv2d",     2, CL_WINDOW,   "sh sw pt pl pb pr dh dw groups", "x[N,H,W,C] * w[kh,kw,C/g,F] -> [N,H',W',F]")
OP(CONV2DBX,   "conv2d_bx",  2, CL_WINDOW,   "sh sw pt pl pb pr dh dw groups", "(dy, w) -> dx: gradient of conv2d for its input")
OP(CONV2DBW,   "conv2d_bw",  2, CL_WINDOW,   "sh sw pt pl pb pr dh dw groups", "(x, dy) -> dw: gradient of conv2d for its weights")
OP(MAXPOOL,    "maxpool",    1, CL_WINDOW,   "kh kw sh sw pt pl pb pr",        "maximum over each window (padding never wins); NaN if one is")
OP(MAXPOOLB,   "maxpool_b",  2, CL_WINDOW,   "kh kw sh sw pt pl pb pr",        "(x, dy) -> dx: dy to each window's first maximum; NaN to a NaN")
OP(AVGPOOL,    "avgpool",    1, CL_WINDOW,   "kh kw sh sw pt pl pb pr",        "mean over the window's cells inside the image")
OP(AVGPOOLB,   "avgpool_b",  1, CL_WINDOW,   "kh kw sh sw pt pl pb pr",        "dy -> dx: each window's gradient spread over its cells")
