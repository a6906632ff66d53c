/* nn_model_desc.h — a compiled model's description, for generic hosts:
 * its inputs, outputs, parameters and states with names, types and shapes. The
 * runtime (nnrt.h) includes it, and every library's header carries it.
 * dtype: 0 f32, 1 f64, 2 i32; dims[i] == -1 is the batch dimension.
 * Names: inputs and outputs as the model names them (an unnamed output:
 * "output0", ...), a label as its output, a parameter as in checkpoints.
 * labels: what a training step takes for each output, labels[i] the
 * target of output i's loss (nlabels 0 for a model without a train block;
 * i32 class ids [N] for an output [N, classes] trained with
 * sparse_categorical_crossentropy, else the output's own type).
 * nnc_version and abi: the nnc that compiled the model and the ABI it
 * follows (NN_MODEL_ABI then: this struct's layout, the API's functions
 * and their types); a later ABI only appends fields. */
#ifndef NN_MODEL_DESC
#define NN_MODEL_DESC
#define NN_MODEL_ABI 2
typedef struct NnTensorDesc {
  const char *name;
  int dtype, rank;
  int64_t dims[8];
} NnTensorDesc;
typedef struct NnModelDesc {
  const char *name;
  int ninputs, noutputs, nparams;
  const NnTensorDesc *inputs, *outputs, *params;
  int nlabels;
  const NnTensorDesc *labels;
  int nstates;             /* the model's states (batch statistics, ...), */
  const NnTensorDesc *states; /* which get_param and set_param take too */
  const char *nnc_version; /* "0.1.0" */
  int abi;                 /* NN_MODEL_ABI of that nnc */
  /* ABI 2: the model's layers, each instance (conv2d1, block1.dense2) and
   * named statement in the order it runs, with its value's type: what
   * M_activation computes and M_gradcam takes by name */
  int nlayers;
  const NnTensorDesc *layers;
} NnModelDesc;
#endif
