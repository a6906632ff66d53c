/* parser.y — the .nn grammar (pure bison parser with locations).
 *
 * Each action is one call into the AST builder (compiler/ast.c); the meaning
 * of the language lives in compiler/sema.c. grammar/nn.ebnf is this grammar
 * in EBNF and must be kept in step with it.
 *
 * Error recovery: a bad statement is skipped up to the end of its line, so
 * one run reports the errors of several statements.
 */
%define api.pure full
%define api.location.type {Loc}
%define parse.error custom
%locations
%lex-param {yyscan_t scanner}
%parse-param {yyscan_t scanner} {ParseCtx *ctx}
%initial-action {
  @$.file = ctx->ls.src;
  @$.first_line = @$.last_line = 1;
  @$.first_column = @$.last_column = 1;
}

%code requires {
#include "nnc.h"
typedef void *yyscan_t;
typedef struct ParseCtx {
  LexState ls;
  Node *decls;       /* reversed while parsing */
} ParseCtx;
}

%code provides {
int yylex(YYSTYPE *lval, Loc *lloc, yyscan_t scanner);
}

%code {
#include <string.h>
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
  do {                                                                \
    if (N) {                                                          \
      (Cur) = loc_span(YYRHSLOC(Rhs, 1), YYRHSLOC(Rhs, N));           \
    } else {                                                          \
      (Cur) = YYRHSLOC(Rhs, 0);                                       \
      (Cur).first_line = (Cur).last_line;                             \
      (Cur).first_column = (Cur).last_column;                         \
    }                                                                 \
  } while (0)
#define YYMAXDEPTH 2000

static void yyerror(Loc *loc, yyscan_t scanner, ParseCtx *ctx, const char *msg);
static Node *arg_with_equals(Loc loc, const char *name, Loc name_loc, Loc eq_loc, Node *value);
static Node *tuple_as_list(Loc loc, Node *first, Node *rest);
static Node *tuple_as_type(Loc loc, Node *dims);
static const char *bracketed(Loc loc);
static Node *setting_with_equals(Loc loc, const char *key, Loc key_loc, Loc eq_loc, Node *values);
}

%union {
  int64_t ival;
  double fval;
  const char *str;
  Node *node;
}

%token END 0 "end of file"
%token NEWLINE "end of line"
%token <str> IDENT "name"
%token <ival> INT "integer"
%token <fval> FLOAT "number"
%token <str> STRING "string"
%token MODEL "'model'" LAYER "'layer'" TRAIN "'train'" INPUT "'input'"
%token OUTPUT "'output'" PARAM "'param'" CONST "'const'" RETURN "'return'" IMPORT "'import'"
%token WHEN "'when'"
%token ARROW "'->'" PIPE "'|>'" LE "'<='" GE "'>='"

%type <node> decl layer_decl model_decl train_decl block stmts stmt
%type <node> settings setting type lparams lparam args arg exprs expr primary
%type <node> lparams_opt args_opt exprs_opt ret_opt

%left PIPE
%nonassoc '<' '>' LE GE
%left '+' '-'
%left '*' '/' '@'
%precedence NEG

%%

program
  : %empty
  | program NEWLINE
  | program decl NEWLINE         { if ($2) $2->next = ctx->decls, ctx->decls = $2; }
  | program error NEWLINE        { yyerrok; }
  ;

decl
  : IMPORT STRING                { $$ = ast_import(@$, $2); }
  | IMPORT STRING IDENT IDENT    { $$ = ast_import_as(@$, $2, $3, @3, $4, @4); }
  | layer_decl
  | model_decl
  | train_decl
  ;

/* layer Name(hparams) (inputs) -> type { ... }, or layer Name(inputs) ... */
layer_decl
  : LAYER IDENT '(' lparams_opt ')' ret_opt nl_opt block
                                 { $$ = ast_layer(@$, $2, @2, NULL, $4, $6, $8); }
  | LAYER IDENT '(' lparams_opt ')' '(' lparams_opt ')' ret_opt nl_opt block
                                 { $$ = ast_layer(@$, $2, @2, $4, $7, $9, $11); }
  | LAYER error block            { $$ = NULL; }
  ;

ret_opt
  : %empty                       { $$ = NULL; }
  | ARROW type                   { $$ = $2; }
  ;

lparams_opt
  : %empty                       { $$ = NULL; }
  | lparams                      { $$ = node_reverse($1); }
  | lparams ','                  { $$ = node_reverse($1); }
  ;

lparams
  : lparam
  | lparams ',' lparam           { $3->next = $1; $$ = $3; }
  ;

/* units  |  kernel = 3  |  x: [n, k] */
lparam
  : IDENT                        { $$ = ast_stmt(ND_INPUT, @$, $1, @1, NULL, NULL); }
  | IDENT '=' expr               { $$ = ast_stmt(ND_INPUT, @$, $1, @1, NULL, $3); }
  | IDENT ':' type               { $$ = ast_stmt(ND_INPUT, @$, $1, @1, $3, NULL); }
  ;

/* A bad header is skipped up to its block, which is then parsed as usual. */
model_decl
  : MODEL IDENT nl_opt block     { $$ = ast_decl(ND_MODEL, @$, $2, @2, $4); }
  | MODEL error block            { $$ = NULL; }
  ;

train_decl
  : TRAIN IDENT nl_opt '{' settings '}'
                                 { $$ = ast_decl(ND_TRAIN, @$, $2, @2, node_reverse($5)); }
  | TRAIN error '{' settings '}' { $$ = NULL; }
  ;

nl_opt
  : %empty
  | nl_opt NEWLINE
  ;

block
  : '{' stmts '}'                { $$ = node_reverse($2); }
  ;

stmts
  : %empty                       { $$ = NULL; }
  | stmts NEWLINE                { $$ = $1; }
  | stmts stmt NEWLINE           { $2->next = $1; $$ = $2; }
  | stmts error NEWLINE          { $$ = $1; yyerrok; }
  ;

stmt
  : INPUT IDENT ':' type         { $$ = ast_stmt(ND_INPUT, @$, $2, @2, $4, NULL); }
  | PARAM IDENT ':' type         { $$ = ast_stmt(ND_PARAM, @$, $2, @2, $4, NULL); }
  | PARAM IDENT ':' type '=' expr
                                 { $$ = ast_stmt(ND_PARAM, @$, $2, @2, $4, $6); }
  | CONST IDENT ':' type '=' expr
                                 { $$ = ast_stmt(ND_PARAM, @$, $2, @2, $4, $6); $$->ival = 1; }
  | IDENT '=' expr               { $$ = ast_stmt(ND_ASSIGN, @$, $1, @1, NULL, $3); }
  | OUTPUT expr                  { $$ = ast_stmt(ND_OUTPUT, @$, NULL, @1, NULL, $2); }
  | OUTPUT IDENT '=' expr        { $$ = ast_stmt(ND_OUTPUT, @$, $2, @2, NULL, $4); }
  | OUTPUT IDENT ':' type '=' expr
                                 { $$ = ast_stmt(ND_OUTPUT, @$, $2, @2, $4, $6); }
  | RETURN expr                  { $$ = ast_stmt(ND_RETURN, @$, NULL, @1, NULL, $2); }
  | expr                         { $$ = ast_stmt(ND_LAYERSTMT, @$, NULL, @1, NULL, $1); }
  ;

settings
  : %empty                       { $$ = NULL; }
  | settings NEWLINE             { $$ = $1; }
  | settings setting NEWLINE     { $2->next = $1; $$ = $2; }
  | settings error NEWLINE       { $$ = $1; yyerrok; }
  ;

/* epochs 150  |  metrics accuracy, precision  |  stop when loss < 0.05 */
setting
  : IDENT exprs                  { $$ = ast_setting(@$, $1, @1, false, node_reverse($2)); }
  | IDENT WHEN expr              { $$ = ast_setting(@$, $1, @1, true, $3); }
  | IDENT '=' exprs              { $$ = setting_with_equals(@$, $1, @1, @2, node_reverse($3)); }
  ;

/* f32[8, 8]  |  [n, k] */
type
  : '[' exprs_opt ']'            { $$ = ast_type(@$, NULL, @$, $2); }
  | IDENT '[' exprs_opt ']'      { $$ = ast_type(@$, $1, @1, $3); }
  | '(' exprs_opt ')'            { $$ = tuple_as_type(@$, $2); } /* an error: (8,) */
  ;

expr
  : expr PIPE expr               { $$ = ast_binary(ND_PIPE, @$, @2, '|', $1, $3); }
  | expr '<' expr                { $$ = ast_binary(ND_COMPARE, @$, @2, '<', $1, $3); }
  | expr '>' expr                { $$ = ast_binary(ND_COMPARE, @$, @2, '>', $1, $3); }
  | expr LE expr                 { $$ = ast_binary(ND_COMPARE, @$, @2, 'l', $1, $3); }
  | expr GE expr                 { $$ = ast_binary(ND_COMPARE, @$, @2, 'g', $1, $3); }
  | expr '+' expr                { $$ = ast_binary(ND_BINARY, @$, @2, '+', $1, $3); }
  | expr '-' expr                { $$ = ast_binary(ND_BINARY, @$, @2, '-', $1, $3); }
  | expr '*' expr                { $$ = ast_binary(ND_BINARY, @$, @2, '*', $1, $3); }
  | expr '/' expr                { $$ = ast_binary(ND_BINARY, @$, @2, '/', $1, $3); }
  | expr '@' expr                { $$ = ast_binary(ND_BINARY, @$, @2, '@', $1, $3); }
  | '-' expr %prec NEG           { $$ = ast_unary(@$, $2); }
  | primary
  ;

primary
  : INT                          { $$ = ast_int(@$, $1); }
  | FLOAT                        { $$ = ast_float(@$, $1); }
  | STRING                       { $$ = ast_string(@$, $1); }
  | IDENT                        { $$ = ast_name(@$, $1); }
  | IDENT '(' args_opt ')'       { $$ = ast_call(@$, $1, @1, $3); }
  | '(' expr ')'                 { $$ = $2; }
  | '(' expr ',' exprs_opt ')'   { $$ = tuple_as_list(@$, $2, $4); } /* an error: (3, 3) */
  | '[' exprs_opt ']'            { $$ = ast_list(@$, $2); }
  ;

args_opt
  : %empty                       { $$ = NULL; }
  | args                         { $$ = node_reverse($1); }
  | args ','                     { $$ = node_reverse($1); }
  ;

args
  : arg
  | args ',' arg                 { $3->next = $1; $$ = $3; }
  ;

arg
  : expr                         { $$ = ast_arg(@$, NULL, @$, $1); }
  | IDENT ':' expr               { $$ = ast_arg(@$, $1, @1, $3); }
  | IDENT '=' expr               { $$ = arg_with_equals(@$, $1, @1, @2, $3); } /* an error */
  ;

exprs_opt
  : %empty                       { $$ = NULL; }
  | exprs                        { $$ = node_reverse($1); }
  | exprs ','                    { $$ = node_reverse($1); }
  ;

exprs
  : expr
  | exprs ',' expr               { $3->next = $1; $$ = $3; }
  ;

%%

/* The text of the token at loc, for "unexpected name 'foo'". */
static const char *token_text(Loc loc) {
  const SrcFile *f = loc.file;
  if (!f || loc.first_line != loc.last_line) return NULL;
  const char *p = f->text, *end = f->text + f->len;
  for (int line = 1; line < loc.first_line && p < end; p++)
    if (*p == '\n') line++;
  p += loc.first_column - 1;
  int n = loc.last_column - loc.first_column + 1;
  if (p < f->text || p + n > end || n <= 0) return NULL;
  return arena_strndup(p, (size_t)(n > 40 ? 40 : n));
}

/* "'->'" and "'('" print as they are; bison spells char tokens '(' already. */
static const char *symbol_text(yysymbol_kind_t sym) {
  const char *s = yysymbol_name(sym);
  if (s[0] == '"') return arena_strndup(s + 1, strlen(s) - 2);
  return s;
}

static int yyreport_syntax_error(const yypcontext_t *pctx, yyscan_t scanner, ParseCtx *ctx) {
  (void)scanner;
  if (ctx->ls.failed_fatal || diag.too_many) return 0; /* nothing more is printed */
  enum { MAX_EXPECTED = 5 };
  yysymbol_kind_t expected[MAX_EXPECTED];
  int n = yypcontext_expected_tokens(pctx, expected, MAX_EXPECTED);
  yysymbol_kind_t got = yypcontext_token(pctx);
  Loc loc = *yypcontext_location(pctx);

  char *what = arena_printf("%s", symbol_text(got));
  if (got == YYSYMBOL_NEWLINE && ctx->ls.virtual_nl) what = arena_strdup(ctx->ls.virtual_nl);
  const char *text = NULL;
  if (got == YYSYMBOL_IDENT || got == YYSYMBOL_INT || got == YYSYMBOL_FLOAT)
    text = token_text(loc);
  if (text) what = arena_printf("%s '%s'", what, text);

  char *msg = arena_printf("unexpected %s", what);
  if (n > 0) {
    msg = arena_printf("%s; expected %s", msg, symbol_text(expected[0]));
    for (int i = 1; i < n; i++)
      msg = arena_printf("%s%s%s", msg, i == n - 1 ? " or " : ", ", symbol_text(expected[i]));
  }
  error_at(loc, "%s", msg);
  /* An unclosed '{' is the usual cause of an unexpected end of file. */
  if (got == YYSYMBOL_YYEOF && ctx->ls.nbraces > 0)
    note_at(ctx->ls.braces[ctx->ls.nbraces - 1], "to match this '{'");
  return 0;
}

/* The source text at loc when it is on one line and short, else NULL. */
static const char *source_text(Loc loc, int max) {
  const SrcFile *f = loc.file;
  if (!f || loc.first_line != loc.last_line) return NULL;
  const char *p = f->text, *end = f->text + f->len;
  for (int line = 1; line < loc.first_line && p < end; p++)
    if (*p == '\n') line++;
  p += loc.first_column - 1;
  int n = loc.last_column - loc.first_column + 1;
  if (p < f->text || p + n > end || n <= 0 || n > max) return NULL;
  return arena_strndup(p, (size_t)n);
}

/* `activation="relu"` (Keras, PyTorch): reported, then read as `activation: relu`
 * so the rest of the program is still checked. A string naming an activation,
 * initializer or padding loses its quotes, as the message says. */
static Node *arg_with_equals(Loc loc, const char *name, Loc name_loc, Loc eq_loc, Node *value) {
  builtins_init();
  if (value->kind == ND_STRING &&
      (builtin_is_activation(value->sval) || builtin_find_kind(value->sval, BK_INIT) ||
       !strcmp(value->sval, "linear") || !strcmp(value->sval, "same") ||
       !strcmp(value->sval, "valid")))
    value = ast_name(value->loc, value->sval);
  const char *text = value->kind == ND_NAME ? value->name : source_text(value->loc, 40);
  if (text)
    error_at(eq_loc, "named arguments are written 'name: value'; write '%s: %s'", name, text);
  else
    error_at(eq_loc, "named arguments are written 'name: value', with ':' instead of '='");
  return ast_arg(loc, name, name_loc, value);
}

/* `optimizer = adam()` in a train block: reported, then read without the '='. */
static Node *setting_with_equals(Loc loc, const char *key, Loc key_loc, Loc eq_loc, Node *values) {
  Loc vals = values->loc;
  for (Node *v = values; v->next; v = v->next) vals = loc_span(vals, v->next->loc);
  const char *text = source_text(vals, 50);
  if (text)
    error_at(eq_loc, "settings are written 'name value', without '='; write '%s %s'", key, text);
  else
    error_at(eq_loc, "settings are written 'name value', without '='");
  return ast_setting(loc, key, key_loc, false, values);
}

/* `(3, 3)`: there are no tuples; a list is written in brackets. Reported,
 * then read as the list. */
static Node *tuple_as_list(Loc loc, Node *first, Node *rest) {
  first->next = rest;
  error_at(loc, "a list is written in brackets, not parentheses: write '%s'", bracketed(loc));
  return ast_list(loc, first);
}

/* The source text at loc, `(3, 3)` or `(8,)`, as a list: `[3, 3]`, `[8]`. */
static const char *bracketed(Loc loc) {
  const char *text = source_text(loc, 60);
  if (!text || strlen(text) < 2) return "[a, b]";
  char *list = arena_strdup(text);
  size_t n = strlen(list) - 1; /* the ')' */
  while (n > 1 && (list[n - 1] == ' ' || list[n - 1] == '\t')) n--;
  if (n > 1 && list[n - 1] == ',') n--;
  list[0] = '[';
  list[n] = ']';
  list[n + 1] = '\0';
  return list;
}

/* `input x: (8,)`, Keras's shape=(8,): reported, then read as `[8]`. */
static Node *tuple_as_type(Loc loc, Node *dims) {
  error_at(loc, "a shape is written in brackets, not parentheses: write '%s'", bracketed(loc));
  return ast_type(loc, NULL, loc, dims);
}

static void yyerror(Loc *loc, yyscan_t scanner, ParseCtx *ctx, const char *msg) {
  (void)scanner;
  if (strcmp(msg, "memory exhausted") == 0)
    msg = "program nested too deeply";
  if (!ctx->ls.failed_fatal) error_at(*loc, "%s", msg);
  ctx->ls.failed_fatal = true;
}
