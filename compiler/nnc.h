/* nnc.h — the one internal header of the nnc compiler.
 *
 * Declares every type and every cross-file function, in one section per
 * source file, in pipeline order (docs/architecture.md draws it). Only the
 * grammar (grammar/lexer.l, grammar/parser.y) and the compiler's .c files
 * include it; the LLVM section only where nnc has LLVM. Compiler memory
 * comes from one arena and is never freed node by node (see util.c).
 */
#ifndef NNC_H
#define NNC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NNC_VERSION "0.1.0"

/* Hard limits that keep hostile input from costing unbounded time or memory. */
enum {
  NN_MAX_SOURCE = 16 << 20, /* bytes in one .nn file */
  NN_MAX_RANK = 8,          /* dimensions in one tensor */
  NN_MAX_NEST = 200,        /* nesting depth of brackets */
  NN_MAX_DEPTH = 1000,      /* depth of an expression tree (a + b + ... counts each +) */
  NN_MAX_IMPORT_DEPTH = 64, /* length of an import chain */
  NN_MAX_ERRORS = 20,       /* errors printed before giving up */
  NN_MAX_INSTANCES = 10000, /* layer instantiations in one compile */
  NN_GRAPH_OUTPUTS = 256,   /* outputs of one graph: a model has 16 at most, the activation graph more */
  NN_MAX_LAYERS = 255,      /* named values the activation and attribution graphs hold */
};
/* Largest number of elements in one tensor (per sample for batched ones). */
#define NN_MAX_ELEMS ((int64_t)INT32_MAX)
/* Not a limit: a model whose parameters, optimizer slots and states take
 * more bytes than this gets a warning that says how many (check_memory). */
#define NN_WARN_BYTES ((int64_t)4 << 30)

/* ---------------------------------------------------------------- util.c */

typedef struct SrcFile SrcFile;
struct SrcFile {
  const char *path;    /* as given by the user; "<stdin>" for standard input */
  const char *dir;     /* directory that relative imports start from */
  const char *text;    /* contents, NUL-terminated (may contain other NULs) */
  size_t len;
  SrcFile *importer;   /* the file that imported this one, or NULL */
};

void *arena_alloc(size_t n);   /* zeroed; aborts cleanly when memory runs out */
void arena_free_all(void);
void arena_release(void *p);     /* frees p now if it is a large block, else nothing */
void arena_permanent(bool on);   /* allocations that survive arena_free_all */
char *arena_strdup(const char *s);
char *arena_strndup(const char *s, size_t n);
char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *path_stem(const char *path); /* "dir/model.so" -> "dir/model" (its last extension gone) */
/* Reads a whole file (path "-" is standard input). Returns NULL with errno
 * set, or errno = EFBIG when it exceeds NN_MAX_SOURCE. */
SrcFile *read_source(const char *path);
SrcFile *source_from_memory(const char *path, const char *data, size_t len);
int edit_distance(const char *a, const char *b);
/* "did you mean": start with {.name = typed, .best_d = 1000}, consider each
 * candidate, then best is the closest one or NULL. */
typedef struct Suggest {
  const char *name, *best;
  int best_d;
} Suggest;
void consider(Suggest *sg, const char *cand);
bool name_alias(const char *typed, const char *ours); /* Keras/PyTorch's name for ours */
/* A string-keyed hash map in the arena (no deletion). */
typedef struct Map Map;
Map *map_new(void);
void *map_get(Map *m, const char *key);
void map_put(Map *m, const char *key, void *val);
/* Calls fn for every entry, in insertion order. */
void map_each(Map *m, void (*fn)(const char *key, void *val, void *ctx), void *ctx);

/* ---------------------------------------------------------------- diag.c */

/* A source range: where a token or node came from. Field names follow
 * bison's YYLTYPE so the parser uses it directly. Lines and columns are
 * 1-based; columns count bytes; last_column is inclusive. */
typedef struct Loc {
  int first_line, first_column, last_line, last_column;
  const SrcFile *file;
} Loc;

typedef struct Diag {
  FILE *out;          /* where diagnostics go (stderr; a null stream when fuzzing) */
  int errors, warnings;
  bool color;
  bool too_many;      /* NN_MAX_ERRORS reached: further errors are dropped */
} Diag;

extern Diag diag;
void diag_reset(FILE *out);
/* What the compiler tries and may give up on without a word (a model's
 * attribution graph): diag_mute silences diagnostics and returns the
 * state that diag_unmute restores, dropping what came in between; true
 * when no error came. */
Diag diag_mute(void);
bool diag_unmute(Diag saved);
void error_at(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void warn_at(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note_at(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A compiler bug, not a user error: prints "internal compiler error" with the
 * compiler's own file and line, and aborts. */
_Noreturn void bug_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define bug(...) bug_at(__FILE__, __LINE__, __VA_ARGS__)
#define unreachable() bug("unreachable")
Loc loc_span(Loc a, Loc b);

/* ------------------------------------------------------------ ast.c (AST) */

typedef enum {
  /* expressions */
  ND_INT,      /* 42 */
  ND_FLOAT,    /* 1e-3 */
  ND_STRING,   /* "data.csv" */
  ND_NAME,     /* relu, x, units */
  ND_LIST,     /* [a, b, c] */
  ND_CALL,     /* f(args) — args are ND_ARG */
  ND_ARG,      /* value, or name: value */
  ND_BINARY,   /* a + b, a - b, a * b, a / b, a @ b */
  ND_NEG,      /* -a */
  ND_PIPE,     /* a |> f(args)  ==  f(a, args) */
  ND_COMPARE,  /* a < b, a <= b, a > b, a >= b (stop rules) */
  /* statements */
  ND_INPUT,    /* input x: f32[8] */
  ND_PARAM,    /* param W: [k, units] = glorot_uniform */
  ND_ASSIGN,   /* h = expr */
  ND_OUTPUT,   /* output expr  |  output y = expr */
  ND_RETURN,   /* return expr */
  ND_LAYERSTMT,/* dense(10, activation: relu) — sequential form */
  ND_SETTING,  /* epochs 150  |  stop when loss < 0.05 */
  ND_TYPE,     /* f32[8, 8]: dtype name (may be NULL) and a ND_LIST of dims */
  /* top-level declarations */
  ND_IMPORT,   /* import "lib.nn" */
  ND_LAYER,    /* layer Name(hparams) (inputs) -> type { body } */
  ND_MODEL,    /* model Name { body } */
  ND_TRAIN,    /* train Name { settings } */
} NodeKind;

typedef enum { DT_NONE, DT_F32, DT_F64, DT_I32 } DType;

/* A static shape; dims equal to DIM_BATCH stand for the one symbolic batch
 * dimension. */
#define DIM_BATCH ((int64_t)-1)
typedef struct Shape {
  int rank;
  int64_t dim[NN_MAX_RANK];
} Shape;

typedef struct Node Node;
struct Node {
  NodeKind kind;
  Loc loc;
  Node *next;          /* sibling in a list */
  const char *name;    /* NAME, CALL callee, ARG/stmt/decl name, SETTING key */
  Loc name_loc;        /* where name is written */
  int op;              /* BINARY/COMPARE operator: '+', '@', '<', 'l' (<=), 'g' (>=) */
  int64_t ival;        /* INT */
  double fval;         /* FLOAT */
  const char *sval;    /* STRING (unescaped), IMPORT path */
  Node *lhs, *rhs;     /* operands; stmt: lhs = type, rhs = value/initializer */
  Node *kids;          /* LIST items, CALL args, block statements, LAYER hparams */
  Node *inputs;        /* LAYER tensor inputs (ND_INPUT) */
  Node *ret;           /* LAYER declared result type (ND_TYPE) or NULL */
  bool when;           /* SETTING written as `key when cond` */
  int depth;           /* expression nesting, bounded by NN_MAX_NEST */
  /* Filled in by sema for tensor-valued nodes of models. */
  bool typed;
  DType dtype;
  Shape shape;
  const char *inst;    /* layer instance name given by sema, e.g. "dense1" */
};

typedef struct Program {
  Node *decls;         /* every declaration, imported files first */
  int nfiles;
  const char **files;  /* the paths of the nfiles files read, the main one first */
} Program;

Node *new_node(NodeKind kind, Loc loc);
/* Builders called by the grammar actions, one per construct. */
Node *ast_import(Loc loc, const char *path);
Node *ast_import_as(Loc loc, const char *path, const char *as, Loc as_loc, const char *name, Loc name_loc);
Node *ast_layer(Loc loc, const char *name, Loc name_loc, Node *hparams, Node *inputs,
                Node *ret, Node *body);
Node *ast_decl(NodeKind kind, Loc loc, const char *name, Loc name_loc, Node *body);
Node *ast_stmt(NodeKind kind, Loc loc, const char *name, Loc name_loc, Node *type, Node *value);
Node *ast_setting(Loc loc, const char *key, Loc key_loc, bool when, Node *values);
Node *ast_type(Loc loc, const char *dtype, Loc dtype_loc, Node *dims);
Node *ast_binary(NodeKind kind, Loc loc, Loc op_loc, int op, Node *lhs, Node *rhs);
Node *ast_unary(Loc loc, Node *operand);
Node *ast_int(Loc loc, int64_t v);
Node *ast_float(Loc loc, double v);
Node *ast_string(Loc loc, const char *s);
Node *ast_name(Loc loc, const char *name);
Node *ast_call(Loc loc, const char *callee, Loc callee_loc, Node *args);
Node *ast_arg(Loc loc, const char *name, Loc name_loc, Node *value);
Node *ast_list(Loc loc, Node *items);
Node *node_reverse(Node *list);
int node_count(const Node *list);
const char *nodekind_name(NodeKind k);
const char *dtype_name(DType t);
DType dtype_from_name(const char *s);
void print_ast(FILE *out, const Program *prog);       /* as parsed (-d P) */
char *shape_str(Shape s);                               /* "[N, 30, 30, 32]" */
char *type_str(DType t, Shape s);                       /* "f32[N, 10]" */
char *expr_str(const Node *n);                          /* source-like text */
char *quote_str(const char *s);                         /* "a\"b" with escapes */
bool shape_product(Shape sh, int64_t *out);              /* false on overflow */
Shape caller_layout(Shape sh, int batch_at); /* a graph's [N, ...] with N moved to axis batch_at */
bool check_shape_size(Loc loc, DType dt, Shape sh);      /* an error when too large */

/* ------------------------------------------------ parse.c (lexer + parser) */

/* Parses one source file into a list of declarations (errors go to diag).
 * Imports are resolved by load_program. */
Node *parse_source(const SrcFile *src);
/* Parses `path` and, recursively, what it imports; cycles are errors. */
Program *load_program(SrcFile *main_src);
/* Shared with the flex scanner. */
typedef struct LexState {
  const SrcFile *src;
  int line, col;       /* position of the next byte */
  int depth;           /* open ( and [ */
  int last;            /* last token returned, for newline insertion */
  bool failed;         /* a lexical error was reported */
  bool failed_fatal;   /* parsing stopped; later syntax errors are noise */
  const char *virtual_nl; /* the last NEWLINE was inserted before this token */
  Loc braces[NN_MAX_NEST]; /* open '{', for "to match this '{'" */
  int nbraces;
} LexState;

/* ------------------------------------------------------------ builtins.c */

/* The kinds of argument a built-in takes (see the spec strings in builtins.c). */
typedef enum {
  PK_TENSOR, PK_TENSORS, PK_INT, PK_FLOAT, PK_BOOL, PK_INTS, PK_AXES, PK_SHAPE,
  PK_PAD, PK_ACT, PK_INIT, PK_ENUM, PK_STRING, PK_METRIC, PK_ANY,
  PK_MONITOR,   /* a name the train block measures: loss, val_loss, accuracy, val_mae, ... */
} ParamKind;

typedef enum {
  BK_LAYER,     /* has trainable parameters: dense, conv2d, ... */
  BK_FUNC,      /* tensor -> tensor, no parameters: relu, softmax, reshape, ... */
  BK_INIT,      /* initializer: glorot_uniform, constant(0.1), ... */
  BK_LOSS, BK_OPTIMIZER, BK_SCHEDULE, BK_DATA, BK_AUGMENT, BK_METRIC,
  BK_STOPPER,   /* `stop plateau(...)`: early stopping */
  BK_REDUCER,   /* `reduce_lr plateau(...)` */
  BK_SAVER,     /* `save best(...)` */
  BK_PRUNER,    /* `prune magnitude(...)` */
} BuiltinKind;
#define BK_LAST BK_PRUNER

typedef struct BParam {
  const char *name;
  ParamKind kind;
  const char *enums;   /* PK_ENUM: "valid|same" */
  bool has_lo, has_hi, lo_open, hi_open;
  double lo, hi;
  const Node *dflt;    /* default value, or NULL when required */
  bool variadic;       /* PK_TENSORS: takes all remaining positional tensors */
} BParam;

typedef struct Sema Sema;
typedef struct Val Val;
typedef struct Graph Graph;
typedef struct Value Value;
typedef struct Builtin Builtin;
typedef bool ShapeRule(Sema *s, const Builtin *b, Node *call, Val *args, Val *out);
struct Builtin {
  const char *name;
  BuiltinKind kind;
  const char *spec;    /* "x:tensor units:int[1,] activation:act=none" */
  ShapeRule *rule;     /* result shape and parameters (layers, funcs) */
  const char *doc;     /* one line for --help-builtins and docs */
  BParam params[12];
  int nparams;
};

void builtins_init(void);
const Builtin *builtin_find(const char *name);            /* layers and functions */
const Builtin *builtin_find_kind(const char *name, BuiltinKind kind);
const char *builtin_kind_names(BuiltinKind kind);        /* "a, b, c" */
const Builtin *builtin_suggest(const char *name, BuiltinKind kind); /* closest name */
bool builtin_is_activation(const char *name);
void print_builtins(FILE *out);

/* --------------------------------------------------------------- sema.c */

typedef enum {
  VK_ERROR,   /* already reported; silences follow-on errors */
  VK_NONE, VK_INT, VK_FLOAT, VK_BOOL, VK_STRING, VK_NAME, VK_LIST, VK_TENSOR,
  VK_CALLABLE, /* a name of a built-in or layer used as a value (activation: relu) */
} ValKind;

/* A value known to sema: a compile-time constant or the type of a tensor. */
struct Val {
  ValKind kind;
  int64_t i;
  double f;
  const char *s;      /* STRING, NAME, CALLABLE */
  Val *items;       /* LIST */
  int nitems;
  DType dtype;        /* TENSOR */
  Shape shape;        /* TENSOR */
  const Node *call;   /* the expression the value came from (NAME or CALL for
                         initializers and activations), NULL for defaults */
  bool batch;         /* INT standing for the symbolic batch dimension */
  int ir;             /* TENSOR in build mode: its IR value number + 1 */
  Loc loc;
};

/* A trainable (or state) tensor found while checking a model. */
typedef struct ParamInfo ParamInfo;
struct ParamInfo {
  const char *name;   /* "conv2d1.W" */
  DType dtype;
  Shape shape;
  const Node *init;   /* initializer expression, or NULL for a built-in default */
  const char *init_name;
  double init_args[2];/* the initializer's arguments: constant (value), uniform
                         (low, high), normal (mean, stddev) */
  bool trainable;
  bool slot;          /* an optimizer's state (Adam's m, v, ...), not the model's */
  const void *value;  /* its value built in (--weights), or NULL: the initializer */
  Loc loc;
  ParamInfo *next;
};

typedef struct ModelInfo ModelInfo;
struct ModelInfo {
  Node *decl;
  bool sequential;
  ParamInfo *params, *last_param;
  int nparams;
  int64_t nvalues;    /* total scalars in all parameters */
  Node *outputs[16];
  int noutputs;
  bool normalize;     /* its train block's data standardizes the input: every
                         graph starts with (x - normalize.mean) / normalize.std */
  ModelInfo *next;
};

/* A train-block setting bound to a built-in: optimizer adam(lr: 1e-3). */
typedef struct Setting {
  const Node *node;   /* the setting as written, NULL when defaulted */
  const Builtin *b;
  Val *args;        /* one per b->params, defaults filled in */
} Setting;

typedef struct TrainInfo TrainInfo;
struct TrainInfo {
  Node *decl;
  ModelInfo *model;
  Setting loss, optimizer, data, validation_data;  /* loss: the first output's, losses[0] */
  Setting losses[16];     /* one per output, in the order of the model's outputs */
  double loss_weights[16];/* each output's loss's weight in the training loss (1 by default) */
  int nlosses;            /* the losses written: 1 (every output) or one per output */
  bool weighted;          /* steps take per-sample weights (sample_weights true, class_weight) */
  bool sample_weights;    /* the setting sample_weights true */
  double *class_weight;   /* class_weight: one per class of the output, or NULL */
  int64_t nclass_weight;
  const Node *class_weight_node;
  Setting test_data;      /* `test SOURCE`: evaluated once after training */
  Setting schedules[4];
  int nschedules;
  const Builtin *metrics[8];
  Loc metric_loc[8];      /* where each is listed */
  int nmetrics;
  int64_t epochs, batch, seed;
  bool shuffle;
  double validation;      /* fraction held out when validation_data is unset */
  double weight_decay;    /* L2 penalty added to the loss */
  bool flip;              /* augment flip */
  int64_t crop;           /* augment crop(padding): 0 when off */
  const Node *augment_node, *crop_node;   /* the first augmentation, the crop */
  bool has_stop;
  const char *stop_metric;
  int stop_op;            /* '<', '>', 'l' (<=), 'g' (>=) */
  double stop_value;
  TrainInfo *next;
  /* callbacks: `stop plateau(...)`, `reduce_lr plateau(...)`, `save best(...)`;
   * bound when set (their monitors checked against the metrics measured) */
  Setting early, reduce_lr, save_best;
  /* `prune magnitude(sparsity:, begin:, end:)`: the weights of rank 2 and
   * more each get a mask (a slot, prune.mask.W) the update is multiplied
   * by; the program sets the masks at the start of epochs begin..end */
  Setting prune;
  double prune_sparsity;
  int64_t prune_begin, prune_end;  /* epochs from 1, end's default filled in */
};

typedef struct Scope Scope;
struct Sema {
  Program *prog;
  Map *decls;         /* name -> top-level Node */
  ModelInfo *models;
  TrainInfo *trains;
  Scope *scope;       /* innermost model or layer being checked */
  int instances;      /* layer instantiations so far (bounded) */
  DType default_float;/* element type of inputs written without one (f32) */
  /* build mode: the same walk also emits the tensor IR */
  Graph *graph;
  ParamInfo *cursor;  /* the next parameter to come */
  int dropouts;       /* dropout instances so far (each gets its own stream) */
  /* lower_model with `layers` set: the value of every layer instance
   * (conv2d1, block1.dense2) and named statement of the model, in the
   * order they are made (explain.c) */
  struct LayerLog *layers;
};

/* A model, or a layer being instantiated: its names, its parameters' prefix. */
struct Scope {
  Scope *parent;
  const char *prefix;     /* "" in a model, "block1" in a layer instance */
  Map *vars;              /* name -> Binding (sema.c's) */
  Map *counters;          /* layer kind -> instances so far (int in a pointer) */
  const Node *layer;      /* ND_LAYER being instantiated, NULL in a model */
  ModelInfo *model;
  DType float_dtype;      /* for `param`s without a dtype */
};

void check_model(Sema *s, Node *decl);  /* a model: its statements, types and parameters */
/* Walks a checked model again, emitting its forward pass into g. */
void lower_model(Sema *s, ModelInfo *m, Graph *g);
Val *sema_eval(Sema *s, Node *expr);           /* used by settings.c */
/* Shared with settings.c. */
bool bind_args(Sema *s, const char *callee, const BParam *ps, int np, Node *args, Val *first,
               Loc call_loc, Val *out);
Scope *scope_push(Sema *s, const char *prefix, const Node *layer, DType fdt);
void scope_pop(Sema *s);
static inline bool val_is_num(const Val *v) { return v->kind == VK_INT || v->kind == VK_FLOAT; }
static inline double val_num(const Val *v) { return v->kind == VK_INT ? (double)v->i : v->f; }

/* ------------------------------------------------------------- values.c */

Val *v_new(ValKind kind, Loc loc);
Val *v_error(Loc loc);
Val *v_int(int64_t i, Loc loc);
Val *v_float(double f, Loc loc);
Val *v_tensor(DType dt, Shape sh, Loc loc);
const char *kind_word(const Val *v);           /* "an integer", "a tensor f32[N, 10]" */
char *value_str(const Val *v);                 /* "[2, 2]", "relu", "0.001" */
/* "; did you mean 'x'?" among the scope's names (vars) and the layers and
 * functions (layers), or "". */
const char *did_you_mean(Sema *s, const char *name, bool vars, bool layers);
/* Reports a value that is not what the context needs (none for VK_ERROR). */
void wrong_value(Sema *s, const Val *v, const char *needed, const char *what);
Val *need_tensor(Sema *s, Val *v, const char *what);   /* v, or VK_ERROR after reporting */
Val *eval_binary(Sema *s, Node *n, Val *a, Val *b);    /* a + b, a - b, a * b, a / b, a @ b */

/* ------------------------------------------------------------- layers.c */

/* The rules that builtins.c's rows point at. */
ShapeRule rule_elementwise, rule_op, rule_softmax, rule_dropout, rule_reduce, rule_convert, rule_argmax,
    rule_flatten, rule_reshape, rule_transpose, rule_concat, rule_slice, rule_pad, rule_resize, rule_dense, rule_conv2d,
    rule_pool2d, rule_global_pool, rule_batch_norm, rule_layer_norm, rule_embedding, rule_recurrent,
    rule_positional_encoding, rule_positional_embedding, rule_attention, rule_transformer;
/* Shared with sequences.c: a built-in's argument by name, the result
 * (emitted in build mode), a tensor result type, helpers of the rules. */
Val *layer_arg(const Builtin *b, Val *a, const char *name);
bool layer_emit(Val *out, int id);
Val *layer_out(Val *out, DType dt, Shape sh);
bool layer_need_float(const Builtin *b, Val *x);
bool int_operand(const Val *v, const char *what); /* a number beside an i32 tensor */
Shape layer_shape1(int64_t d);
bool layer_weight(Sema *s, const char *name, DType dt, Shape sh, const Val *init, Loc loc, int *id);
bool layer_norm_params(Sema *s, const char *prefix, DType dt, int64_t d, Loc loc, int *gamma, int *beta);
int layer_scale(Graph *g, int x, double f);
int layer_activation(Graph *g, const char *name, int x, double alpha);
int layer_norm_ir(Graph *g, int x, int gamma, int beta, double epsilon);
int layer_dropout(Sema *s, int x, double rate);
/* Declares a parameter of the model being checked (in build mode: takes the
 * next one of the list and sets *id to its value). */
bool add_param(Sema *s, const char *name, DType dt, Shape shape, const char *init_name,
               const Node *init, const Val *init_args, int init_nargs, bool trainable, Loc loc,
               int *id);
DType sema_float_dtype(Sema *s);                 /* for parameters without a dtype */
int val_ir(const Val *v);                        /* a tensor's IR value in build mode */

/* ----------------------------------------------------------- settings.c */

void check_train(Sema *s, Node *decl);    /* a train block, after its model */
/* Whether argument `name` of a setting's call is written (by name or by
 * its place), not defaulted. */
bool setting_arg_written(const Setting *st, const char *name);
Val *setting_arg(const Setting *st, const char *name);  /* the argument, defaults filled in */
/* Argument `name` of a validation or test source: as written, else the
 * training data's (the same file format unless it says otherwise). */
Val *source_arg(const Setting *st, const Setting *data, const char *name);
void check_memory(Sema *s);               /* every model's tensors against NN_WARN_BYTES */
void print_settings(FILE *out);           /* the settings' names (nnc --help-builtins) */

/* ------------------------------------------------------------ program.c */

/* Checks the whole program; returns false when errors were reported. */
bool sema_check(Sema *s, Program *prog);

/* ------------------------------- onnx_read.c, onnx.c, onnx_ops.c (import) */

/* onnx.proto's element types (TensorProto.DataType) */
enum { OX_FLOAT = 1, OX_UINT8, OX_INT8, OX_UINT16, OX_INT16, OX_INT32, OX_INT64, OX_STRING, OX_BOOL,
       OX_FLOAT16, OX_DOUBLE, OX_UINT32, OX_UINT64, OX_BFLOAT16 = 16 };
typedef struct OnnxTensor { /* f: a floating-point type's values, i: any other's */
  const char *name; int type, rank; int64_t dims[NN_MAX_RANK], count; double *f; int64_t *i;
} OnnxTensor;
typedef struct OnnxAttr {
  const char *name, *s, **strings; int type, nfloats, nints, nstrings; float f, *floats; int64_t i, *ints; OnnxTensor *t;
  bool has_graph;
} OnnxAttr;
typedef struct OnnxNode { /* an absent optional input is "" */
  const char *name, *op, *domain, **in, **out; OnnxAttr *attrs; int nin, nout, nattrs;
} OnnxNode;
typedef struct OnnxValueInfo { /* dimension i: dims[i] >= 0, or params[i] */
  const char *name, *params[NN_MAX_RANK]; int type, rank; int64_t dims[NN_MAX_RANK]; bool has_shape, not_tensor;
} OnnxValueInfo;
typedef struct OnnxGraph {
  const char *name; OnnxNode *nodes; OnnxTensor *inits; OnnxValueInfo *inputs, *outputs, *infos;
  int nnodes, ninits, ninputs, noutputs, ninfos; bool sparse;
} OnnxGraph;
typedef struct OnnxModel { /* opset: the default domain's */
  const char *path, *producer; int64_t ir_version, opset; OnnxGraph graph;
} OnnxModel;
OnnxModel *onnx_read(const char *path);        /* NULL after an error naming the byte */
OnnxModel *onnx_parse(const char *path, const void *data, size_t len);
const char *onnx_type_name(int type);
bool onnx_is_float(int type);
/* The model of an ONNX file as a .nn program (model `name`), NULL after
 * errors; its parameters' values are recorded for onnx_values. */
SrcFile *onnx_import(const char *path, const char *name, int64_t batch); /* name NULL: the stem */
SrcFile *onnx_translate(OnnxModel *m, const char *name, int64_t batch);  /* batch: --batch's */
void onnx_values(Sema *s); /* sets the imported models' ParamInfo.value (NULL: none), forgets them */

/* The translation of one graph, shared by onnx.c and onnx_ops.c. */
#define NSYM (INT64_MIN / 2) /* the batch dimension inside a folded integer constant; NSYM + c - 1: c times it */
#define NSYM_MAX ((int64_t)1 << 40)
static inline int64_t nsym_times(int64_t d) { return d >= NSYM && d < NSYM + NSYM_MAX ? d - NSYM + 1 : 0; }
typedef struct OnnxVal { /* nn: its name in the text (NULL: a constant not written); sh: nnc's shape
                           (N or the sample axis first); k: its value when known at import */
  const char *nn; Shape sh; DType dt; OnnxTensor *k;
  int bax;           /* the batch's axis in the ONNX view (onnx_rnn.c): sh holds it first */
  bool mlo, mhi;     /* the ONNX view merges the batch with the axis before (mlo) or after it (mhi) */
  bool fill;         /* a constant as large as the batch: bk (1 at the batch's axis bax) broadcast along it */
  OnnxTensor *bk;
} OnnxVal;
typedef struct OnnxTr {
  const OnnxModel *m; const char *model, *any_input, *err; /* err: the first error */
  Map *vals, *names, *counters, *outs;  /* ONNX name -> OnnxVal; .nn names taken; layer -> calls;
                                           graph outputs -> their .nn names */
  char *text, *layers; size_t len, cap; /* the model's statements; generated layers */
  bool const_layer[NN_MAX_RANK + 1], table_layer[NN_MAX_RANK + 1], failed;
  int off; int64_t fixed_batch;         /* nnc axis = ONNX axis + off; the graph's batch size or -1 */
  bool trailing;                        /* a handler runs on a moved value's .nn tensor (onnx_rnn.c) */
  const OnnxNode *node;                 /* being translated */
} OnnxTr;
bool ox_fail(OnnxTr *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *ox_name(OnnxTr *t, const char *onnx);     /* a fresh .nn name */
const char *ox_instance(OnnxTr *t, const char *kind); /* sema's name for the next call */
void ox_add_value(OnnxTr *t, const char *param, const OnnxTensor *k);
OnnxTensor *ox_new_const(int type, int rank, const int64_t *dims); /* after ox_size_ok where they grow */
bool ox_size_ok(OnnxTr *t, int rank, const int64_t *dims);
double ox_kget(const OnnxTensor *k, int64_t i);
DType ox_dtype(int type);
OnnxVal *ox_tv_const(OnnxTensor *k);
char *ox_num_str(double x);
char *ox_ints_str(const int64_t *a, int n);
void ox_stmt(OnnxTr *t, const char *name, const char *expr);
const char *ox_named(OnnxTr *t, const char *e); /* e as a statement of its own: its name */
const char *ox_use(OnnxTr *t, OnnxVal *v, bool literal_ok);  /* as a computed tensor */
const char *ox_table(OnnxTr *t, OnnxTensor *k, const char *name); /* a made table: a const, not trained */
const char *ox_const_output(OnnxTr *t, OnnxVal *v, OnnxVal *x); /* a constant output, per sample */
OnnxVal *ox_in(OnnxTr *t, int i), *ox_need(OnnxTr *t, int i); /* NULL when absent; NULL after an error */
const OnnxAttr *ox_attr(OnnxTr *t, const char *name);
int64_t ox_attr_i(OnnxTr *t, const char *name, int64_t dflt);
double ox_attr_f(OnnxTr *t, const char *name, double dflt);
const char *ox_attr_s(OnnxTr *t, const char *name, const char *dflt);
OnnxVal *ox_out(OnnxTr *t, int i, DType dt, Shape sh, const char *expr);
void ox_out_const(OnnxTr *t, int i, OnnxTensor *k);
bool ox_out_bcast(OnnxTr *t, OnnxTensor *k, int bax); /* output 0: k (1 at bax) broadcast along the batch */
int ox_axis(OnnxTr *t, int64_t a, int onnx_rank); /* nnc's, or -1 after an error */
int ox_orank(OnnxTr *t, const OnnxVal *v);
bool ox_elems(Shape sh, int from, int64_t *out);
bool ox_bshape(OnnxTr *t, Shape a, Shape b, Shape *o);
const char *ox_align(OnnxTr *t, OnnxVal *v, int rank, Shape *sh);
bool onnx_node(OnnxTr *t);       /* onnx_ops.c: translates t->node */
bool onnx_plain_node(OnnxTr *t); /* the same, its inputs' batches first */
bool onnx_supported(const char *op); /* an op onnx_node translates (some of its forms) */
int onnx_shape_node(OnnxTr *t, const char *op); /* onnx_shape.c: its ops (-1: not one; t NULL: 1 if one) */
int onnx_moved_node(OnnxTr *t); /* onnx_rnn.c: a node reading a value whose batch moved (-1: none does) */
int ox_view(const OnnxVal *x, int64_t *od, int64_t *times); /* the ONNX dims of a computed value, the batch DIM_BATCH */
bool ox_recurrent(OnnxTr *t, const char *kind); /* LSTM, GRU, RNN as lstm, gru, simple_rnn */
OnnxTensor *ox_konst(OnnxTr *t, int i, const char *what); /* input i known at import, or NULL after an error */
bool ox_axes(OnnxTr *t, int i, int64_t *axes, int *n, bool *given); /* the attribute, or input i */

/* --------------------------------------------------------------- dump.c */

void print_checked(FILE *out, Sema *s);          /* --emit=ast, -d S */
const char *group(int64_t v);                   /* 1234567 -> "1,234,567" */
const char *size_str(int64_t bytes);            /* "27.9 GiB", "512 B" */

/* ------------------------------------------------- ir.c (the tensor IR) */

typedef enum {
#define OP(id, name, arity, cls, attrs, fn, x, doc) OP_##id,
#include "ops.h"
#undef OP
  NUM_OPS
} Op;

typedef enum {
  CL_LEAF, CL_UNARY, CL_BINARY, CL_TERNARY, CL_REDUCE, CL_CONTRACT, CL_MOVE, CL_WINDOW, CL_SCAN,
} OpClass;

typedef struct OpInfo {
  const char *name;
  int arity;           /* -1: any number up to IR_MAX_IN (scan) */
  OpClass cls;
  const char *attrs;   /* attribute names, "axes..." for a variable list */
  const char *doc;
  const char *x;       /* an elementwise op's meaning as C on doubles a, b, c (ops.h) */
  const char *fn;      /* its name as a function of the language, or NULL */
} OpInfo;
extern const OpInfo op_info[NUM_OPS];

enum { IR_MAX_IN = 16, IR_MAX_ATTR = 13 };

/* Which part of a training step a value belongs to (for dumps and dot). */
typedef enum { PART_FWD, PART_LOSS, PART_BWD, PART_UPDATE } Part;

/* Run-time scalars (OP_SCALAR's attribute). */
enum { SC_BATCH, SC_STEP, SC_EPOCH, SC_SEED, SC_LR, NUM_SCALARS };

/* One SSA value. Values are numbered in creation order, which is a
 * topological order: operands always have smaller numbers. */
struct Value {
  Op op;
  DType dtype;
  Shape shape;
  int nin;
  int in[IR_MAX_IN];
  int nattr;
  int64_t a[IR_MAX_ATTR];
  double f;
  Loc loc;
  Part part;
};

/* What a graph's label may hold, for the checks a compiled model makes
 * before a step: kind is runtime/nnrt.h's NnrtLabelKind; class ids are in
 * [0, classes), or equal to ignore when has_ignore. */
typedef struct LabelRule {
  int kind;
  int64_t classes, ignore;
  bool has_ignore;
} LabelRule;

/* A state update of a training step: after the step, tensor `index` of the
 * params (or states) holds `value`. */
typedef struct Update {
  bool state;
  int index;
  int value;
} Update;

/* A layer quantized to int8 (quantize.c): the constants a qmatmul or
 * qconv2d reads, built into the code: the weights [k, n], each column's
 * scale and the runtime's blob (runtime/nnrt.h, nnrt_qlayer_bytes). */
typedef struct QLayer {
  int64_t k, n;
  const int8_t *w;        /* [k, n] row-major */
  const float *scale;     /* [n] in blob: the activations' scale times the column's */
  const unsigned char *blob;
  size_t bytes;
} QLayer;

struct Graph {
  const char *name;
  bool training;
  Value *v;
  int n, cap;
  int *table;            /* hash-consing: open addressing over value numbers */
  int tcap;
  Part part;             /* given to new values */
  Loc loc;               /* given to new values */
  /* the interface */
  int inputs[16], ninputs;
  int outputs[NN_GRAPH_OUTPUTS], noutputs; /* a model's 16 at most; the attribution graphs' more */
  const char *input_names[16], *output_names[NN_GRAPH_OUTPUTS]; /* as the model names them, or NULL */
  int8_t input_batch[16], output_batch[NN_GRAPH_OUTPUTS]; /* the batch's axis in the caller's layout (graphs hold it first) */
  int labels[16], nlabels; /* OP_LABEL values: label i (the target of output i's loss) */
  int loss;              /* scalar loss or -1 */
  LabelRule label_rules[16]; /* what label i may hold */
  ParamInfo **params;    /* OP_PARAM index -> parameter */
  int nparams, capparams;
  ParamInfo **states;    /* OP_STATE index -> state tensor */
  int nstates, capstates;
  Update *updates;
  int nupdates, capupdates;
  int *param_grads;      /* param index -> d loss / d param, or -1 (training) */
  double base_lr;        /* the optimizer's rate: scalar lr's value unless overridden */
  /* the graphs scans run (attribute body: an index here); a body's leaves
   * are inputs (the scan's operands, in order), constants and iotas; its
   * outputs the new carries, then the per-step results */
  struct Graph **bodies;
  int nbodies, capbodies;
  const QLayer *qlayers;  /* the layers qmatmul and qconv2d read (attribute q: an index here) */
  int nqlayers;
};

Graph *graph_new(const char *name);
void graph_reserve(Graph *g, int n);   /* room for n values */
/* Gives g's value array and table back: a graph that nothing refers to
 * any more (a pass's input that was copied). */
void graph_release(Graph *g);
/* Makes (or finds: hash-consing) a value; the shape and dtype are inferred
 * from the operands except for leaves, RESHAPE, EXPAND, CAST and the
 * backward window ops, which take the given ones. */
int ir_make(Graph *g, Op op, DType dt, Shape sh, const int *in, int nin, const int64_t *a,
            int na, double f);
int ir_leaf(Graph *g, Op op, DType dt, Shape sh, int64_t index);
int ir_const(Graph *g, DType dt, Shape sh, double f);
int ir_scalar(Graph *g, DType dt, double f);           /* rank-0 constant */
int ir_unary(Graph *g, Op op, int x);
int ir_binary(Graph *g, Op op, int a, int b);
int ir_select(Graph *g, int c, int a, int b);
int ir_sum(Graph *g, int x, const int *axes, int naxes); /* axes removed */
int ir_rmax(Graph *g, int x, const int *axes, int naxes);
int ir_axis_op(Graph *g, Op op, int x, int axis);       /* softmax, logsoftmax, argmax */
int ir_reshape(Graph *g, int x, Shape sh);
int ir_expand(Graph *g, int x, Shape sh);
int ir_transpose(Graph *g, int x, const int *perm);
int ir_slice(Graph *g, int x, int axis, int64_t start, int64_t end);
int ir_pad(Graph *g, int x, int axis, int64_t before, int64_t after);
int ir_iota(Graph *g, DType dt, Shape sh, int axis);  /* index along axis, no batch */
int ir_matmul(Graph *g, int a, int b);
int ir_matmul_sum(Graph *g, int a, int b); /* sum over the leading axes of a @ b */
int ir_cast(Graph *g, int x, DType dt);
int ir_window(Graph *g, Op op, int x, int w, const int64_t *a, Shape result);
bool pool_window_empty(int64_t n, int64_t k, int64_t stride, int64_t lo, int64_t hi, int64_t d);
int ir_sum_to(Graph *g, int x, Shape target);          /* undo broadcasting */
int ir_mean_all(Graph *g, int x);                      /* mean over every element */
/* A scan of g->bodies[body] (ir_body) over `steps` steps: carries[k] the
 * initial states, seqs[m] sequences sliced along axis, inv[p] invariants,
 * skip the sequence whose all-zero slice skips a step (-1: none, docs/ir.md),
 * adds what a skipped step adds to the carries (4 bits a sequence);
 * makes every scan_out (2k + q of them, q the body's per-step results)
 * right after the scan and returns the first. */
int ir_body(Graph *g, Graph *body);
int ir_scan(Graph *g, int body, int64_t steps, bool reverse, int axis, const int *carries, int k, const int *seqs,
            int m, const int *inv, int p, int skip, int64_t adds);
/* A scan's results: 0..k-1 the final carries, k..k+q-1 the per-step
 * results stacked (steps inserted at axis), then the carries as each step
 * found them, stacked likewise; result i's type. */
int ir_scan_results(const Graph *g, const Value *scan);
/* On a skipped step (docs/ir.md): the carry that the body's per-step
 * result l repeats, or -1 (the result is 0 there); the carry that
 * sequence j's slice is added to, or -1. */
int ir_scan_repeats(const Graph *body, int k, int l);
int ir_scan_adds(const Value *scan, int j);
Shape ir_scan_result(const Graph *g, const Value *scan, int i, DType *dt);
const char *ir_body_op(Op op);     /* why op may not be in a body, or NULL */
const char *ir_scanout_place(Graph *g, int id, const Value *v); /* why not there, or NULL */
int add_param_value(Graph *g, ParamInfo *p, bool state);
void add_update(Graph *g, bool state, int index, int value);
bool shape_eq(Shape a, Shape b);
bool shape_one(Shape s);         /* one element, no batch dimension */
bool op_elementwise(Op op);      /* unary, binary or ternary: fusable into a loop */
Op op_from_fn(const char *name); /* the op a .nn function names (ops.h's fn), or NUM_OPS */
bool broadcast_shapes(Shape a, Shape b, Shape *out);
bool broadcast_where(Shape a, Shape b, Shape *out, int *bad_a, int *bad_b);
bool is_float(DType t);
bool op_on_ints(Op op);       /* elementwise ops defined on i32 tensors */
double ir_i32(double x);      /* a double as i32 arithmetic gives it: saturated, NaN as 0 */
const char *ir_check(Graph *g, const Value *v);  /* NULL, or why v's type is wrong */
/* Checks every invariant of the graph; a violation is a compiler bug. */
void verify(Graph *g, const char *stage);
void print_ir(FILE *out, Graph *g);
void print_dot(FILE *out, Graph *g);

/* ------------------------------------------------------------ irparse.c */

Graph *parse_ir(const SrcFile *src);   /* the text form back; NULL on error */

/* ------------------------------------------------------------- autodiff.c */

/* Adds the reverse pass for `loss` (a scalar); returns, for each value
 * number, the value holding d loss / d value, or -1 where none flows.
 * Errors (a gradient through an integer value) are reported at the source
 * position of the op that stops it. */
int *autodiff(Graph *g, int loss);
/* The same with respect to the values from[0..nfrom) (inputs, a layer's
 * output) instead of the parameters: what the attribution graph needs. */
int *autodiff_from(Graph *g, int loss, const int *from, int nfrom);

/* ------------------------------------------------------------- explain.c */

/* The named values lower_model logs when Sema.layers is set: each layer
 * instance's result, each named statement of the model and each function
 * statement of a sequential one (max_pool2d1), in order (`h = conv2d(...)`:
 * conv2d1, then h for the same value; a name given again: h@2, h@3; named
 * outputs too), NN_MAX_LAYERS at most. */
typedef struct LayerLog {
  const char *name[NN_MAX_LAYERS];
  int id[NN_MAX_LAYERS];
  int n;
} LayerLog;
void layer_logged(LayerLog *log, const char *name, int id);
/* A sequential model's statement of a function (max_pool2d, flatten,
 * dropout): logged as max_pool2d1, max_pool2d2, ... */
void layer_statement(LayerLog *log, const Node *rhs, int id);
/* The graphs that look inside model m (runtime/nnrt.h's NNRT_ATTR and
 * NNRT_LAYERS, docs/interpret.md): the attribution graph (NULL when the
 * first output is not floating-point or no gradient flows to it) and the
 * layers' values (NULL for a model with no named value). */
Graph *lower_attribution(Sema *s, ModelInfo *m);
Graph *lower_layers(Sema *s, ModelInfo *m);
/* The layers graph g as a Graphviz cluster (--emit=layers, drawn by dot
 * for --emit=svg): its inputs and layers with their types, each layer's
 * edges from the nearest layers and inputs it is computed from. */
void print_layers_dot(FILE *out, const Graph *g, int cluster);

/* --------------------------------------------------------------- train.c */

/* Lowers a model to its forward graph (inference) or, with its train block,
 * to the whole training step: forward, loss, backward, optimizer update. */
Graph *lower_inference(Sema *s, ModelInfo *m);
Graph *lower_training(Sema *s, TrainInfo *t);
Graph *lower_evaluation(Sema *s, TrainInfo *t);   /* inference-mode loss, no update */
int optimizer_slots(const Setting *optimizer);  /* state tensors it keeps a trained parameter */
bool prunable(const TrainInfo *t, const ParamInfo *p);  /* whether `prune` gives p a mask */

/* ------------------------------------------------------------ simplify.c */

Graph *simplify(Graph *g);   /* constant folding, algebra, dead-code elimination */
/* simplify, each scan replaced by copies of its body, one a step (its
 * stacked results concatenations of the steps') */
Graph *unroll(Graph *g);
/* A scan body with k carries as the backends run it (simplify.c):
 * accumulating carries (carry + x) give x, bit i of *acc set for each. */
Graph *accumulators(Graph *b, int k, unsigned *acc);

/* ---------------------------------------------------------------- eval.c */

/* The naive reference evaluator: every value of a graph, computed in double
 * and rounded to float after each op for f32 values. */
typedef struct Tensor {
  Shape shape;          /* concrete: no batch dimension left */
  int64_t n;
  double *d;
} Tensor;

typedef struct Eval {
  Graph *g;
  int64_t batch;
  double scalars[NUM_SCALARS];
  Tensor *inputs;       /* [g->ninputs] */
  Tensor labels[16];    /* [g->nlabels] */
  Tensor *params;       /* [g->nparams] */
  Tensor *states;       /* [g->nstates] */
  Tensor *vals;         /* [g->n], filled by eval_run */
  bool exact;           /* compute f32 values in double, unrounded */
  bool *need;           /* eval_run_for: the values its target needs */
  int need_target;      /* that target + 1 */
  const double **pin;   /* value -> numbers it takes instead of its own, or NULL */
} Eval;

Eval *eval_new(Graph *g, int64_t batch);
void eval_init_params(Eval *e, uint64_t seed);   /* by each parameter's initializer */
void init_tensor(Tensor *t, const ParamInfo *p, uint64_t seed, uint64_t stream);
void eval_run(Eval *e);
void eval_run_for(Eval *e, int target);
void eval_apply_updates(Eval *e);               /* params/states = their updates */
double eval_updated(const Eval *e, int i, int64_t j); /* element j of update i, as stored */
/* Value id takes the numbers d (its element count, the caller's) instead
 * of computing its own in later runs, NULL again to compute: what a step
 * would do with another gradient (checkc.c). */
void eval_pin(Eval *e, int id, const double *d);
void eval_free(Eval *e);
double eval_scalar_op(Op op, double a, double b, double c); /* an elementwise op (ops.h's x) */
double eval_select(double c, double a, double b);  /* select's kernel */
uint64_t nn_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter);
double nn_rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter); /* [0, 1) */

/* --------------------------------------------------------------- plan.c */

/* The code generator's plan for a graph (see plan.c): kernels — runs of
 * elementwise values fused into one loop, other work alone — and where
 * each stored value lives in the arena. */
typedef struct Plan {
  int nkernels, nfused;
  int *first, *last;     /* kernel -> its first and last value (a fused run: others between may be
                            another kernel's) */
  int *next;             /* value -> the next value of its kernel, or -1: first[k], next[first[k]],
                            ... are kernel k's members in order */
  int *members;          /* kernel -> how many values it computes */
  int *kernel;           /* value -> its kernel, or -1 (leaves: the run function's) */
  bool *stored;          /* value -> has a buffer */
  bool *literal;         /* value -> a constant written into the loops instead */
  bool *folded;          /* value -> a view its readers read through: a transpose (matrix
                            products swap strides), an expand (elementwise loops broadcast) */
  bool *alias;           /* value -> a reshape: its operand's memory */
  int *region;           /* value -> 0 fixed, 1 per sample, 2 its own (batch twice) */
  int64_t *off;          /* value -> byte offset in its region (per sample in region 1) */
  int64_t fixed_bytes, sample_bytes;
  int *in_place;         /* value -> the member written over its buffer (plan_in_place), or -1 */
  int *operands, *operand; /* kernel k's outside operands: operand[operands[k] .. operands[k + 1]) */
  int *same;             /* kernel -> the first kernel with the same structure (the same code but for
                            value numbers), or itself: the backends write that code once */
  int *pool;             /* kernel -> the pooling fused after its convolution's epilogue (its last
                            member; plan_pools), or -1 */
  int64_t *kept;         /* parameter -> its kept slot's byte offset, or -1; NULL: none (plan_kept) */
  struct Plan **body;    /* the graph's bodies' plans (a scan's kernel is the scan and its scan_outs) */
  struct Graph **bodies; /* the bodies as compiled (accumulators) */
  unsigned *accum;       /* body -> its accumulating carries (accumulators) */
  int invariants;        /* a body's: its first invariant input (the scan's k + m); -1 for a graph */
  int64_t body_kept;     /* a body's: the bytes of its products' kept panels of invariants, whose
                            offsets `kept` holds by value (made once a scan, nnrt_scan) */
} Plan;
Plan *plan_graph(const Graph *g, bool fuse);
void print_plan(FILE *out, const Graph *g, const Plan *p);   /* -d K */
int plan_read(const Plan *p, const Graph *g, int x);   /* what a reader of x reads: through a fold */
int plan_root(const Plan *p, const Graph *g, int x);   /* whose memory x is: through folds and aliases */
/* The geometry of a convolution or pooling value (runtime/nnrt.h's
 * NnrtWindow; the batch is passed apart). */
struct NnrtWindow plan_window(const Graph *g, const Value *v);
/* The scratch a kernel's head needs besides its result, in elements of
 * its type: min(n, cap) * per + fixed + packs * nnrt_sgemm_scratch(nt, or
 * 1 when pack_alone) (a product's packed panels, a convolution's columns). */
typedef struct PlanScratch {
  bool any, pack_alone;
  int64_t cap, per, fixed;
  int packs;
} PlanScratch;
PlanScratch plan_scratch(const Graph *g, const Value *v);
/* An instance's kept transforms (runtime/nnrt.h, NnrtModel's kept): what
 * a forward run derives from a parameter alone, in a slot per parameter
 * that a forward graph (no training step, no updates) reads as the 3x3
 * filters of a float convolution (Winograd's transform) or as the B of a
 * single float product, unfolded (the GEMM's packed panels), in the order
 * of the parameters. plan_takes_kept: whether head v's kernel takes a
 * slot (a pointer, NULL where it has none): every float convolution and
 * single float product of a forward graph, so that kernels of the same
 * structure share code; plan_kept_slot: its slot's byte offset, or -1;
 * plan_kept: lays the slots out for b's graphs (their plans' `kept`) and
 * returns the bytes of all. */
struct Built;
bool plan_takes_kept(const Graph *g, const Value *v);
/* Whether product v is one matrix product: rank 2, or a batch of them
 * against one B of rank 2, the rows of every A one [L M, K] matrix. */
bool plan_one_product(const Graph *g, const Value *v);
/* Whether matmul_sum v is one product: A a folded transpose of X [L.., k,
 * m], B [L.., k, n], read as [L k, m] and [L k, n] (else one product a
 * leading index, added up). */
bool plan_rows_product(const Plan *p, const Graph *g, const Value *v);
int64_t plan_kept_slot(const Plan *p, const Graph *g, const Value *v);
int64_t plan_kept(const struct Built *b);
/* A scan's descriptor for the runtime (nnrt_scan): its words in d,
 * returns how many (at most PLAN_SCAN_WORDS: k + m <= IR_MAX_IN carries
 * and sequences, k + q <= 16 body outputs). */
enum { PLAN_SCAN_WORDS = 13 + 4 * (IR_MAX_IN + 16) + 16 };
int plan_scan_desc(const Plan *p, const Graph *g, const Value *v, int64_t *d);
/* Where kernel k's head is computed when it has an epilogue: its own
 * buffer when stored, else the last member's (same shape and type); with
 * pooling fused, the band of the pooling's operand. */
int plan_home(const Plan *p, const Graph *g, int k);
/* A convolution's result x whose pooling is fused (Plan.pool): samples
 * per band, the only part of x stored at once. */
int64_t plan_pool_band(const Graph *g, int x);
/* The member of kernel k whose buffer is operand x's (in-place reuse), or -1. */
int plan_in_place(const Plan *p, const Graph *g, int k, int x);
/* The operands kernel k's elementwise members read from outside (neither
 * members nor constants, which are literals), each once, in the order the
 * members read them: the order of a kernel's parameters. *out is the
 * plan's own list. */
int plan_operands(const Plan *p, const Graph *g, int k, int **out);
/* Whether an epilogue over shape s (rows of its last axis) reads xs by
 * (row, column): all of s, one element, or one row. */
bool plan_row_operand(Shape xs, Shape s);

/* What a model's NnrtModelDef holds besides its code (runtime/nnrt.h):
 * the checks its API makes before a run and the optimizer's slots among
 * its states, computed once for every backend from the model's graphs
 * (train, eval, infer, step; any may be NULL). */
typedef struct ModelChecks {
  int nslots, nlabels;
  int label_kind[16], label_dtype[16], label_has_ignore[16];
  int64_t max_batch;
  int64_t label_size[16], label_classes[16], label_ignore[16];
  int64_t vocab[16];
  int sample_split;    /* inference may run a batch as slices of samples at once */
  int64_t sample_work; /* multiply-adds of one sample's inference */
  /* generation (NnrtModelDef's gen_*): steps, classes, probabilities,
   * f64 scores; the step graph's states and their bytes a sample */
  int64_t gen[4];
  int gen_nstates;
  int64_t gen_state_bytes[15];
} ModelChecks;
ModelChecks model_checks(Graph *const *gs);

/* generate.c: a language model's inference graph g (ids [N, T] to scores
 * [N, T, C]) at one position, each forward scan one step from carries
 * that are inputs (after the ids) to carries that are outputs (after the
 * scores); NULL when g is not computed position by position. */
Graph *generation_step(Graph *g);

/* ------------------------------------------------ main.c (the pipeline) */

/* A model as compile() hands it on to a backend or a check: its graphs,
 * each built once (lowered, simplified, verified, planned), in the order
 * of the runtime's run[] (NNRT_TRAIN, NNRT_EVAL, NNRT_INFER, NNRT_STEP,
 * NNRT_ATTR, NNRT_LAYERS: the last two in libraries, explain.c);
 * a model without a train block has no training or evaluation graph, and
 * only a language model computed position by position has a generation
 * step (generate.c). */
enum { GRAPH_TRAIN, GRAPH_EVAL, GRAPH_INFER, GRAPH_STEP, GRAPH_ATTR, GRAPH_LAYERS, NGRAPHS };
typedef struct Built {
  const char *name;        /* the model's name: its API's prefix */
  ModelInfo *model;
  TrainInfo *train;        /* its train block, or NULL */
  Graph *g[NGRAPHS];
  Plan *plan[NGRAPHS];
  /* 0: the graphs' code copied for each of isa_levels besides the
   * baseline's, the copy run chosen at run time (what users get); k: one
   * copy alone, that of isa_levels[k - 1], or k = NISA_LEVELS + 1 the
   * baseline's (--check-c builds the code this processor runs, no more) */
  int only_level;
  struct Built *next;
} Built;
/* The graph a dump shows of a model: its training step, else inference. */
static inline Graph *built_main_graph(const Built *b) {
  return b->g[GRAPH_TRAIN] ? b->g[GRAPH_TRAIN] : b->g[GRAPH_INFER];
}
/* summary.c: the model's summary as Keras prints it (nnc --summary, the
 * training program's start): layers, shapes, parameter counts, totals. */
const char *model_summary(const Built *b);

/* What to make, from the command line. */
typedef enum { EMIT_NONE, EMIT_NN, EMIT_ONNX, EMIT_AST, EMIT_IR, EMIT_DOT, EMIT_LAYERS, EMIT_SVG, EMIT_C, EMIT_EXE, EMIT_SO,
               EMIT_LL, EMIT_BC, EMIT_ASM, EMIT_OBJ } Emit;
typedef struct Backend Backend;
typedef struct Options {
  const char *input;
  const char *output;   /* -o; NULL means standard output */
  Emit emit;
  bool syntax_only;
  bool check_grad;      /* --check-grad */
  bool check_c;         /* --check-c, --check-explain */
  bool check_explain;   /* --check-explain: the attribution and layers graphs only */
  bool check_llvm;      /* --check-c checks the LLVM backend's library too */
  const char *quantize; /* --quantize int8, or NULL */
  const char *calibrate;/* --calibrate data|validation|test: the train block's source */
  int64_t calibrate_samples; /* --calibrate-samples N: the source's first N samples (0: 500) */
  double percentile;    /* --calibrate-percentile P: the scale from |x|'s P-th percentile (0: its maximum) */
  bool no_main;         /* --no-main: C output for linking into a program */
  bool no_fuse;         /* --no-fuse: one kernel per value */
  bool unroll;          /* --unroll: recurrences as copies of their step, not loops */
  DType dtype;          /* --dtype: element type of inputs written without one */
  const char *dump;     /* -d letters */
  const char *cpu;      /* --cpu: the processor (C: the compiler's -march; LLVM: its CPU name) */
  const char *target;   /* --target: the LLVM backend's target triple (none: the host) */
  const char *backend_name; /* --backend */
  const Backend *backend;   /* what writes the artifact (NULL: nothing is written) */
  int opt;              /* -O0..-O3; -1: the default (3) */
  bool summary;         /* --summary: print each model's summary */
  const char *weights[16]; /* --weights [MODEL=]FILE: checkpoints built into the models */
  int nweights;
  bool inference_only;  /* --inference-only: no training step, evaluation or optimizer state */
  bool no_explain;      /* --no-explain: no attribution or layers graph (explain.c) */
  int64_t batch;        /* --batch: an ONNX model's symbolic first dimensions fixed (0: kept) */
  const char *model;    /* --model: the one --emit=onnx writes of a program's models */
  bool deps;            /* -MD: write the files the output depends on, make's way */
  const char *deps_file;/* -MF: where (default: the output's name with .d) */
} Options;

/* weights.c: each --weights checkpoint read (checked as the runtime checks
 * a load: names, types, shapes) into its model's parameters and states,
 * which the backends then build in; errors name the file and the tensor. */
bool built_in_weights(Built *models, const Options *o);
int64_t param_elements(const ParamInfo *p); /* its elements (no batch dimension) */
bool write_weights(Sema *s, const char *path); /* the parameters with values, a weights file */
/* quantize.c: --quantize int8: each model's inference graph with its
 * products and convolutions of built-in weights in int8 (qmatmul,
 * qconv2d), the activations' scales from the --calibrate source; the
 * report of each layer on stderr. */
bool quantize_models(Built *models, const Options *o);
int quant_value(double x, float inv, bool *bad); /* eval.c: x quantized, as the runtime does */
const char *weights_file(const char *spec);  /* the FILE of "[MODEL=]FILE" */

/* ------------------------------------------------------------- output.c */

/* The backends: a row each, with the artifact kinds it makes (a bit per
 * Emit) and three steps compile() calls in order: begin (the file, what
 * comes before the models), model (once per built model), finish (what
 * comes after, the build, the header; with ok false it only cleans up).
 * A failed run leaves no file behind. */
typedef struct Out Out;
struct Backend {
  const char *name;
  unsigned kinds;
  bool (*begin)(Out *out);
  bool (*model)(Out *out, const Built *b);
  bool (*finish)(Out *out, bool ok);
};
struct Out {
  const Options *o;
  Built *models;
  const char *target;      /* the file made ("-": standard output) */
  char *tmp;               /* where it is written first */
  FILE *f;
  struct LlvmOut *lo;
  const Built *program;    /* the model a C program trains */
};
extern const Backend backends[];
extern const int nbackends;
const Backend *backend_named(const char *name);
int write_ast(const Options *o, Sema *s);     /* --emit=ast */
int write_nn(const Options *o, const char *text); /* --emit=nn */
bool write_onnx(const Options *o, Built *models); /* onnx_write.c: --emit=onnx */

/* --------------------------------------------------------------- tools.c */

/* A command line as words, run without a shell. v is NULL-terminated. */
typedef struct Argv {
  const char **v;
  int n, cap;
} Argv;
void argv_add(Argv *a, const char *word);
void argv_add_words(Argv *a, const char *s);   /* s split on blanks (no quoting); NULL adds nothing */
char *argv_string(const Argv *a);              /* the words joined by spaces, for messages */
/* Runs a->v[0], found in PATH, with standard output and error to the files
 * out and err unless NULL, and waits. Returns the exit status, 256 + N when
 * signal N ended it, or -errno when it could not start. */
int run_tool(const Argv *a, const char *out, const char *err);
const char *tool_outcome(int status);          /* "exit status 1", "killed by signal 11", ... */
/* $CC (cc when unset or blank) split on blanks, then -std=c11 -ffp-contract=off. */
Argv cc_command(void);
void cc_add_cflags(Argv *a);                   /* the words of $CFLAGS */
/* Whether $CC -fopenmp builds and links a file that uses omp.h; tried
 * once per run, in a temporary directory it removes, with a note on
 * standard error when it fails (the caller builds without OpenMP). */
bool cc_has_openmp(void);

/* ------------------------------------------------------------- emit_c.c */

/* The instruction-set levels both backends copy a graph's code for, widest
 * first, besides x86-64's own when they build for any x86-64: the copy's
 * suffix, the runtime's level (runtime/nnrt.h, nnrt_isa) by name and by
 * value, and the target features of its functions (GCC's and clang's
 * names; LLVM's with a '+' before each). */
enum { NISA_LEVELS = 2 };
typedef struct IsaLevel {
  const char *name, *enum_name;
  int isa;
  const char *features;
} IsaLevel;
extern const IsaLevel isa_levels[NISA_LEVELS];
/* Built.only_level for the code this processor runs (--check-c, tests). */
int isa_level_here(void);
/* The copies of b's graph k: Built.only_level, but generation's step (a
 * token at a time) once, at the baseline. */
int graph_levels(const Built *b, int k);

/* The C of one graph: its plan's kernels and NAME_SUFFIX_run(). */
void emit_c_graph(FILE *out, Graph *g, Plan *p, const char *model, const char *suffix, int only_level);
/* A C file: the prelude (includes, the parts of the runtime that the
 * models' graphs call, inline), then each model's tensors, graphs,
 * descriptor, NnrtModelDef table, and its API as calls into the
 * runtime's nnrt_model_* functions. */
void emit_c_prelude(FILE *out, const char *source, const Built *models);
void emit_c_model(FILE *out, const Built *b);
/* The runtime's parts only a training program uses (its data and its
 * main's work), copied into a C file before the program. */
void emit_c_program_runtime(FILE *out);
/* The header of a shared library: every model's API and descriptor. */
void emit_c_header(FILE *out, const char *source, const Built *models);
/* The float version of libm's function `fn` in an op's expression, which
 * f32 values call (runtime/nnrt_vmath.h, or libm's sqrtf, fabsf, floorf);
 * NULL when they call the double one and round its result. */
const char *vmath_f32(const char *fn);

/* ------------------------------------------------------------ emit_llvm.c */

/* The LLVM backend (built when nnc is built with LLVM): a module for a
 * target (NULL triple: the host; cpu NULL: the host's processor for the
 * host, a generic one for another target; "native": the host's), every
 * model added with llvm_model (the same library the C backend writes),
 * then verified, optimized at -O`opt` and written as kind "llvm" (.ll),
 * "bc", "asm" or "obj", and with `so` linked into that shared library by
 * the system linker with the runtime nnc was built with. export_runs makes
 * the run functions visible (the backend check calls them). */
typedef struct LlvmOut LlvmOut;
LlvmOut *llvm_begin(const char *source, const char *triple, const char *cpu, int opt, bool export_runs);
void llvm_model(LlvmOut *o, const Built *b);
bool llvm_finish(LlvmOut *o, const char *kind, const char *path, const char *so, const char *soname);
const char *llvm_version(void);

#ifdef NNC_HAVE_LLVM
/* What the kernels (emit_llvm.c) and the model's tables, API and module
 * (emit_llvm_model.c) share; only these two files use it. */
#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

struct LlvmOut {
  LLVMContextRef cx;
  LLVMModuleRef mod;
  LLVMTargetMachineRef tm;
  int opt;
  bool export_runs; /* the run functions visible (the backend check calls them) */
  bool runtime_in;  /* the runtime's bitcode goes in (this machine, -O3) */
  bool cold;        /* building a graph run rarely (the attribution and layers graphs) */
  bool levels;      /* x86-64 for any processor: the graphs' code copied per level (emit_llvm_isa.c) */
  const char *level; /* building a level's copy with the runtime in: its name, the suffix of the
                        runtime's window functions compiled for it (CMakeLists.txt); else NULL */
};

typedef struct Lv {
  LLVMContextRef cx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTypeRef v, i1, i8, i32, i64, f32, f64, p8, pp8, p64;
  Graph *g;
  Plan *p;
  const char *name;      /* kernel prefix: "SeedMLP_train" */
  LLVMValueRef fn;       /* the function being built */
  LLVMValueRef n, nt;    /* its batch size (i64) and threads (i32) */
  LLVMValueRef *yp, *xp; /* value -> the kernel's pointer to it: written (y) or read (x) */
  LLVMValueRef *t;       /* value -> its element in the current elementwise body */
  LLVMValueRef *xl;      /* value -> its element loaded there (an outside operand) */
  LLVMValueRef epi;      /* the current kernel's NnrtEpilogue *, or null */
  LLVMValueRef kept;     /* in a run piece: the instance's kept transforms (NnrtModel's kept) */
  int loops;             /* loops opened so far but those of one trip (emit_llvm.c's loop_open) */
  const char *level;     /* LlvmOut's level */
  bool cold;             /* LlvmOut's cold */
  LLVMValueRef *body_run, *body_arena; /* the graph's bodies' NAME_bI_run and NAME_bI_arena */
} Lv;

/* emit_llvm_model.c: a builder over the module's context and its types.
 * emit_llvm.c: one graph's kernels with its NAME_run and NAME_arena functions; constants;
 * a function declared (or found), called, or begun (the builder at its
 * entry). */
Lv lv_new(LlvmOut *o);
void llvm_graph(LlvmOut *o, Graph *g, Plan *p, const char *name, bool exported, LLVMValueRef *run,
                LLVMValueRef *arena_fn);
/* emit_llvm_isa.c: one graph as llvm_graph makes it (NAME being
 * MODEL_SUFFIX), and in a module for any x86-64 (o->levels) copies of its
 * kernels and run function for AVX2 and for AVX-512, NAME_run running the
 * one of the processor's level (the runtime's nnrt_isa); with only_level
 * (Built) that level's copy alone. */
void llvm_graph_levels(LlvmOut *o, Graph *g, Plan *p, const char *model, const char *suffix, int only_level,
                       LLVMValueRef *run, LLVMValueRef *arena_fn);
LLVMValueRef ci(Lv *L, int64_t v);
LLVMValueRef ci32(Lv *L, int64_t v);
LLVMValueRef cf(Lv *L, double v);
LLVMValueRef declare(Lv *L, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n);
LLVMValueRef call(Lv *L, LLVMValueRef fn, LLVMValueRef *args, unsigned n);
LLVMValueRef function(Lv *L, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n, bool internal);
/* A function of libm (or the runtime) of a and b (NULL: of a), declared
 * once, of a's type (double, or float). */
LLVMValueRef math(Lv *L, const char *name, LLVMValueRef a, LLVMValueRef b);
/* A value type's LLVM type, a pointer to a type, a dimension as an i64
 * (the batch: the function's n). */
LLVMTypeRef ty(Lv *L, DType t);
LLVMTypeRef ptr_to(LLVMTypeRef t);
LLVMValueRef dim_v(Lv *L, int64_t d);

/* emit_llvm_window.c: convolution or pooling v as a call of the runtime's
 * kernel: arg the kernel's pointers (result, operands, then the result of
 * a pooling fused after a convolution, then a float convolution's kept
 * slot), s its scratch. */
void llvm_window(Lv *L, const Value *v, LLVMValueRef *arg, LLVMValueRef s);

/* emit_llvm_scan.c: scan `id`'s scratch bytes (the runtime's, then the
 * body's arena), and its call of the runtime's loop: res its results'
 * buffers (NULL where unread), ops its operands', scratch where its
 * scratch is, m the instance. */
LLVMValueRef llvm_scan_scratch(Lv *L, int id);
void llvm_scan_call(Lv *L, int id, LLVMValueRef *res, LLVMValueRef *ops, LLVMValueRef m, LLVMValueRef scratch);
/* emit_llvm_loops.c: an epilogue's loops called (args: r0, r1, c0, c1,
 * cols, its pointers), whole rows of a constant `width` (not DIM_BATCH)
 * through a copy that has it as the trip count. */
void llvm_call_rows(Lv *L, LLVMValueRef loops, LLVMValueRef *args, unsigned n, int64_t width);
/* Keeps LLVM's loop vectorizer off the loop whose back edge is br. */
void llvm_loop_scalar(Lv *L, LLVMValueRef br);
/* for (i = from; i < to; i++) { ... }: loop_open returns i and leaves
 * the builder in the body; loop_close ends it after the loop. A loop
 * around another of more than one trip is not vectorized: that would be
 * across rows, with gathers and scatters (llvm_loop_scalar). */
typedef struct Loop {
  LLVMBasicBlockRef head, exit;
  LLVMValueRef i;
  int loops; /* L->loops after this one opened */
} Loop;
LLVMValueRef loop_open(Lv *L, Loop *lp, LLVMValueRef from, LLVMValueRef to);
void loop_close(Lv *L, Loop *lp);
/* Loops over every axis of s, the outermost from lo to hi when split
 * (lo, hi null: the whole axis); idx[d] is axis d's index. */
void loops_open(Lv *L, Loop *lp, Shape s, LLVMValueRef *idx, LLVMValueRef lo, LLVMValueRef hi);
void loops_close(Lv *L, Loop *lp, int rank);
/* if (cond) { ... }: the block after it, for if_close. */
LLVMBasicBlockRef if_open(Lv *L, LLVMValueRef cond);
void if_close(Lv *L, LLVMBasicBlockRef merge);
/* A variable in the entry block (so that mem2reg makes it a register). */
LLVMValueRef local(Lv *L, LLVMTypeRef t, const char *name);
/* f32 softmax or log-softmax v of one row (len elements, inner apart)
 * into yr, in the C backend's order (emit_c.c's k_axis). */
void llvm_softmax_f32(Lv *L, const Value *v, LLVMValueRef row, LLVMValueRef yr, LLVMValueRef len,
                      LLVMValueRef inner);
/* emit_llvm_op.c: elementwise op `op` on a, b, c (ops.h's x), all doubles
 * or all floats (an f32 value's, computed in float as the C backend's),
 * in that type; rounded as its result type `out` needs only for cast. */
LLVMValueRef llvm_scalar_op(Lv *L, Op op, DType out, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);
#endif

/* ------------------------------------------------------------ emit_main.c */

/* Whether a standalone training program can be written for t (its data
 * source has a reader); if not, where and why. */
bool main_supported(TrainInfo *t, Loc *where, const char **why);
/* The main() that trains model t: flags, data, epochs, progress, held-out. */
void emit_c_main(FILE *out, const Built *b);
int nnrt_init_index(const char *name);   /* the runtime's NnrtInit number */

/* --------------------------------------------------------------- checkc.c */

/* nnc --check-c: compiles each model's graphs to C with the system's C
 * compiler, runs them on random data, and compares every output, loss and
 * update with the reference evaluator (within rounding; the same bits at
 * 1 and 2 threads and unfused), and the LLVM backend's with the C's bits. */
bool check_c_backend(Sema *s, const Built *models, const Options *o, FILE *out);

/* ------------------------------------------------------------ gradcheck.c */

/* nnc --check-grad: the gradients autodiff builds against central
 * differences, for every model; returns false when one is off. */
bool check_gradients(Sema *s, const Built *models, FILE *out);
/* Random inputs, labels that suit the losses of train block t (NULL:
 * numbers), parameters from their initializers plus noise: the data both
 * checks run on. */
void eval_randomize(Eval *e, const TrainInfo *t, uint64_t seed);
/* The gradient of <c, outputs[0]> for a random c fed as the label: the
 * graph every model's whole-graph check uses. */
Graph *lower_projection(Sema *s, ModelInfo *m);

#endif
