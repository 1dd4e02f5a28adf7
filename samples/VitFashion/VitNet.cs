// A small vision transformer on Fashion-MNIST with linear attention. A two-conv stem (3x3, stride 2, twice: the
// overlapping patch embedding of efficient ViTs) turns the 28x28 image into a 7x7 grid of 64-feature tokens; four
// pre-norm TransformerBlocks run SLAB's simplified linear attention (ReLU feature map, cost linear in the tokens,
// plus the depthwise conv of v over the grid, which also gives the tokens their positions); a LayerNorm, the mean
// over tokens and a linear head classify. The blocks' norms are SLAB's progressive re-parameterized BatchNorm
// (PRepBN): LayerNorm for the first epoch (WarmSteps, 469 steps of batch 128), then annealed linearly into RepBN
// (BatchNorm + alpha x) over the next four epochs (TotalSteps), so the last epochs of a 7-epoch run train the pure
// BatchNorm form. ToDeploy folds the stem's BatchNorms into its convs and each block's RepBNs into attn.qkv and
// mlp.fc1: the deploy model has no norm inside the blocks.
using Authoring;
using static Authoring.Ops;

namespace VitFashion;

[Model]
public partial class VitNet
{
    const int D = 64, Grid = 7, Tokens = Grid * Grid, Heads = 4;
    const int StepsPerEpoch = 469, Warm = StepsPerEpoch, Anneal = 4 * StepsPerEpoch;
    readonly Conv2d stem1 = new(1, 32, 3, stride: 2, padding: 1, bias: false);   // 14x14
    readonly BatchNorm2d bn1 = new(32);
    readonly Conv2d stem2 = new(32, D, 3, stride: 2, padding: 1, bias: false);   // 7x7
    readonly BatchNorm2d bn2 = new(D);
    readonly TransformerBlock block0 = new(D, Heads, mlpRatio: 2f, featureMap: "relu", dwcKernel: 3, norm: "prepbn", warmSteps: Warm, totalSteps: Anneal);
    readonly TransformerBlock block1 = new(D, Heads, mlpRatio: 2f, featureMap: "relu", dwcKernel: 3, norm: "prepbn", warmSteps: Warm, totalSteps: Anneal);
    readonly TransformerBlock block2 = new(D, Heads, mlpRatio: 2f, featureMap: "relu", dwcKernel: 3, norm: "prepbn", warmSteps: Warm, totalSteps: Anneal);
    readonly TransformerBlock block3 = new(D, Heads, mlpRatio: 2f, featureMap: "relu", dwcKernel: 3, norm: "prepbn", warmSteps: Warm, totalSteps: Anneal);
    readonly LayerNorm norm = new(D);
    readonly Linear head = new(D, 10);

    Tensor Forward([Shape(1, 28, 28)] Tensor x)
    {
        var s = Relu(bn1.Forward(stem1.Forward(x)));
        s = bn2.Forward(stem2.Forward(s));                                  // (D, 7, 7)
        var t = Transpose(Reshape(s, D, Tokens), 0, 1);                     // (49, D) tokens, row-major over the grid
        t = block3.Forward(block2.Forward(block1.Forward(block0.Forward(t))));
        return head.Forward(Mean(norm.Forward(t), 0));
    }
}
