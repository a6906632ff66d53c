/* ops.h — the one op table of the tensor IR.
 *
 * Each row: OP(ID, name, arity, class, attrs, fn, x, semantics). The enum,
 * the names used by the printer and the parser, the arities checked by the
 * verifier, the classes used by passes and the .nn functions all derive
 * from it (include it with OP defined). fn names the elementwise op as a
 * function of the language (sema's builtins: x, or a and b broadcast), or
 * is NULL. x is an elementwise op's meaning, once: a C expression
 * on its operands as doubles a, b, c, of which the evaluator is compiled
 * (eval.c), the C backend writes the text (emit_c.c) and the LLVM backend
 * translates the text (emit_llvm.c); (0) for the other ops. For f32
 * values the backends read it in float: `double` is float and libm's
 * functions are their float versions (vmath_f32: runtime/nnrt_vmath.h's,
 * within 2 ulp), the rest giving the bits of the double expression
 * rounded. A comparison gives 0 or 1 as in C. An i32 value (op_on_ints
 * says which ops have one) is the double result converted as ir_i32 does:
 * toward zero, saturated at the bounds, NaN as 0 (the C backend's
 * nnrt_i32); a cast to i32 is that conversion.
 *
 * Ops built on comparisons propagate NaN (docs/ir.md, "Ops"): the
 * evaluator, the C and LLVM backends and the runtime's pooling agree.
 * Elementwise ops broadcast their operands as numpy does; the batch dimension
 * N broadcasts only against itself and 1. `attrs` names the integer
 * attributes in order (a[0], a[1], ...); `f` is the one float attribute.
 * Shapes are NHWC for images and HWIO for convolution weights.
 */

/* leaves: the graph's interface */
OP(INPUT,       "input",       0,  CL_LEAF,      "index",                           NULL,       (0),                                         "model input number `index`")
OP(LABEL,       "label",       0,  CL_LEAF,      "index",                           NULL,       (0),                                         "the training target of output `index` for a batch")
OP(PARAM,       "param",       0,  CL_LEAF,      "index",                           NULL,       (0),                                         "trainable parameter `index`")
OP(STATE,       "state",       0,  CL_LEAF,      "index",                           NULL,       (0),                                         "non-trainable state `index` (running statistics, optimizer slots)")
OP(SCALAR,      "scalar",      0,  CL_LEAF,      "which",                           NULL,       (0),                                         "a run-time scalar: 0 batch size, 1 step (from 1), 2 epoch (from 0), 3 seed, 4 learning rate")
OP(CONST,       "const",       0,  CL_LEAF,      "",                                NULL,       (0),                                         "every element equals f")
OP(DROPMASK,    "dropmask",    2,  CL_LEAF,      "instance",                        NULL,       (0),                                         "(seed, step) -> 0 or 1/(1-f) per element, keep probability 1-f, counter-based RNG")
OP(IOTA,        "iota",        0,  CL_LEAF,      "axis",                            NULL,       (0),                                         "every element equals its index along axis (attention's causal mask)")
/* elementwise, one operand */
OP(NEG,         "neg",         1,  CL_UNARY,     "",                                NULL,       (-a),                                        "-x")
OP(EXP,         "exp",         1,  CL_UNARY,     "",                                "exp",      (exp(a)),                                    "e^x")
OP(LOG,         "log",         1,  CL_UNARY,     "",                                "log",      (log(a)),                                    "natural logarithm")
OP(LOG1P,       "log1p",       1,  CL_UNARY,     "",                                "log1p",    (log1p(a)),                                  "log(1 + x), exact near 0")
OP(SQRT,        "sqrt",        1,  CL_UNARY,     "",                                "sqrt",     (sqrt(a)),                                   "square root")
OP(ABS,         "abs",         1,  CL_UNARY,     "",                                "abs",      (fabs(a)),                                   "|x|")
OP(SIGN,        "sign",        1,  CL_UNARY,     "",                                "sign",     (a != a ? a : (double)((a > 0) - (a < 0))),  "-1, 0 or 1; NaN for NaN")
OP(RELU,        "relu",        1,  CL_UNARY,     "",                                "relu",     (a <= 0 ? 0 : a),                            "max(x, 0); NaN for NaN, +0 for -0")
OP(STEP,        "step",        1,  CL_UNARY,     "",                                NULL,       (a <= 0 ? 0 : a > 0 ? 1 : a),                "1 if x > 0, 0 if x <= 0, NaN for NaN")
OP(SIGMOID,     "sigmoid",     1,  CL_UNARY,     "",                                "sigmoid",  (nnrt_sigmoid(a)),                           "1 / (1 + e^-x), stable for large |x|")
OP(TANH,        "tanh",        1,  CL_UNARY,     "",                                "tanh",     (tanh(a)),                                   "hyperbolic tangent")
OP(ERF,         "erf",         1,  CL_UNARY,     "",                                "erf",      (erf(a)),                                    "error function")
OP(COS,         "cos",         1,  CL_UNARY,     "",                                "cos",      (cos(a)),                                    "cosine")
OP(SIN,         "sin",         1,  CL_UNARY,     "",                                "sin",      (sin(a)),                                    "sine")
OP(ASIN,        "asin",        1,  CL_UNARY,     "",                                "asin",     (asin(a)),                                   "inverse sine, in [-pi/2, pi/2]; NaN outside [-1, 1]")
OP(ACOS,        "acos",        1,  CL_UNARY,     "",                                "acos",     (acos(a)),                                   "inverse cosine, in [0, pi]; NaN outside [-1, 1]")
OP(ATAN,        "atan",        1,  CL_UNARY,     "",                                "atan",     (atan(a)),                                   "inverse tangent, in (-pi/2, pi/2)")
OP(FLOOR,       "floor",       1,  CL_UNARY,     "",                                "floor",    (floor(a)),                                  "largest integer <= x")
OP(CAST,        "cast",        1,  CL_UNARY,     "",                                NULL,       (a),                                         "conversion to the result's element type")
/* elementwise, two or three operands */
OP(ADD,         "add",         2,  CL_BINARY,    "",                                NULL,       (a + b),                                     "a + b")
OP(SUB,         "sub",         2,  CL_BINARY,    "",                                NULL,       (a - b),                                     "a - b")
OP(MUL,         "mul",         2,  CL_BINARY,    "",                                NULL,       (a * b),                                     "a * b")
OP(DIV,         "div",         2,  CL_BINARY,    "",                                NULL,       (a / b),                                     "a / b")
OP(MAX,         "max",         2,  CL_BINARY,    "",                                "maximum",  (a != a ? a : a >= b ? a : b),               "larger of a and b (a when equal); the first NaN operand if any")
OP(MIN,         "min",         2,  CL_BINARY,    "",                                "minimum",  (a != a ? a : a <= b ? a : b),               "smaller of a and b (a when equal); the first NaN operand if any")
OP(POW,         "pow",         2,  CL_BINARY,    "",                                "pow",      (pow(a, b)),                                 "a^b")
OP(GT,          "gt",          2,  CL_BINARY,    "",                                "greater",  (a > b ? 1 : a <= b ? 0 : a != a ? a : b),   "1 if a > b, 0 if a <= b, else the first NaN operand")
OP(SELECT,      "select",      3,  CL_TERNARY,   "",                                "where",    (a != a ? a : a != 0 ? b : c),               "b if c != 0 else d, c if c is NaN  (operands c, b, d)")
/* reductions */
OP(SUM,         "sum",         1,  CL_REDUCE,    "axes...",                         NULL,       (0),                                         "sum over the listed axes, which are removed")
OP(RMAX,        "rmax",        1,  CL_REDUCE,    "axes...",                         NULL,       (0),                                         "maximum over the listed axes, which are removed; NaN if one is NaN")
OP(SOFTMAX,     "softmax",     1,  CL_REDUCE,    "axis",                            NULL,       (0),                                         "e^x / sum(e^x) along axis, computed from x - max")
OP(LOGSOFTMAX,  "logsoftmax",  1,  CL_REDUCE,    "axis",                            NULL,       (0),                                         "x - max - log(sum(e^(x - max))) along axis")
OP(ARGMAX,      "argmax",      1,  CL_REDUCE,    "axis",                            NULL,       (0),                                         "index of the first maximum along axis, or of the first NaN (i32)")
/* contraction */
OP(MATMUL,      "matmul",      2,  CL_CONTRACT,  "",                                NULL,       (0),                                         "[..., m, k] @ [..., k, n] -> [..., m, n], leading axes broadcast")
OP(MATMULSUM,   "matmul_sum",  2,  CL_CONTRACT,  "",                                NULL,       (0),                                         "[..., m, k] @ [..., k, n] summed over the leading axes (which broadcast) -> [m, n]: a weight's gradient over every sample and position")
/* data movement */
OP(RESHAPE,     "reshape",     1,  CL_MOVE,      "",                                NULL,       (0),                                         "same elements in row-major order, the result's shape")
OP(TRANSPOSE,   "transpose",   1,  CL_MOVE,      "perm...",                         NULL,       (0),                                         "result axis i is operand axis perm[i]")
OP(EXPAND,      "expand",      1,  CL_MOVE,      "",                                NULL,       (0),                                         "broadcast to the result's shape")
OP(SLICE,       "slice",       1,  CL_MOVE,      "axis start end",                  NULL,       (0),                                         "elements start..end-1 along axis")
OP(PAD,         "pad",         1,  CL_MOVE,      "axis before after",               NULL,       (0),                                         "zeros added before and after along axis")
OP(CONCAT,      "concat",      2,  CL_MOVE,      "axis",                            NULL,       (0),                                         "a then b along axis")
OP(GATHER,      "gather",      2,  CL_MOVE,      "",                                NULL,       (0),                                         "rows of table[V, D] picked by ids[...] -> [..., D]")
OP(SCATTERADD,  "scatteradd",  2,  CL_MOVE,      "rows",                            NULL,       (0),                                         "(ids[...], upd[..., D]) -> [rows, D], upd summed into row ids")
OP(ONEHOT,      "onehot",      1,  CL_MOVE,      "depth",                           NULL,       (0),                                         "ids[...] -> [..., depth] of 0 and 1")
/* windows over NHWC images */
OP(CONV2D,      "conv2d",      2,  CL_WINDOW,    "sh sw pt pl pb pr dh dw groups",  NULL,       (0),                                         "x[N,H,W,C] * w[kh,kw,C/g,F] -> [N,H',W',F]")
OP(CONV2DBX,    "conv2d_bx",   2,  CL_WINDOW,    "sh sw pt pl pb pr dh dw groups",  NULL,       (0),                                         "(dy, w) -> dx: gradient of conv2d for its input")
OP(CONV2DBW,    "conv2d_bw",   2,  CL_WINDOW,    "sh sw pt pl pb pr dh dw groups",  NULL,       (0),                                         "(x, dy) -> dw: gradient of conv2d for its weights")
OP(QMATMUL,     "qmatmul",     1,  CL_WINDOW,    "q n",                             NULL,       (0),                                         "x[..., k] times quantized layer q's int8 weights [k, n] -> [..., n] (nnc --quantize)")
OP(QCONV2D,     "qconv2d",     1,  CL_WINDOW,    "sh sw pt pl pb pr dh dw groups kh kw f q", NULL, (0),                                       "x[N,H,W,C] * quantized layer q's int8 filters [kh,kw,C,f] -> [N,H',W',f] (nnc --quantize)")
OP(MAXPOOL,     "maxpool",     1,  CL_WINDOW,    "kh kw sh sw pt pl pb pr dh dw",   NULL,       (0),                                         "maximum over each window (padding never wins); NaN if one is")
OP(MAXPOOLB,    "maxpool_b",   2,  CL_WINDOW,    "kh kw sh sw pt pl pb pr dh dw",   NULL,       (0),                                         "(x, dy) -> dx: dy to each window's first maximum; NaN to a NaN")
OP(AVGPOOL,     "avgpool",     1,  CL_WINDOW,    "kh kw sh sw pt pl pb pr dh dw",   NULL,       (0),                                         "mean over the window's cells inside the image")
OP(AVGPOOLB,    "avgpool_b",   1,  CL_WINDOW,    "kh kw sh sw pt pl pb pr dh dw",   NULL,       (0),                                         "dy -> dx: each window's gradient spread over its cells")
/* a loop: the body graph run once a step, its state carried between steps */
OP(SCAN,        "scan",        -1, CL_SCAN,      "body steps reverse axis carries seqs skip adds", NULL, (0),                                "runs graph `body` `steps` times (from the last step with reverse): operands `carries` initial states, `seqs` sequences (step t's slice along `axis` a body input), then invariants; the body's outputs are the new states, then per-step results; a step where sequence `skip` (-1: none) is 0 throughout is not run: the states stay (plus, for each sequence j whose 4-bit field j of `adds` is c > 0, its slice added to state c - 1), a result that is a state repeats it, any other is 0; read through scan_out")
OP(SCANOUT,     "scan_out",    1,  CL_SCAN,      "index",                           NULL,       (0),                                         "result `index` of a scan: 0..k-1 the final states, then each per-step result stacked along the scan's axis, then each state as it entered each step, stacked likewise")
