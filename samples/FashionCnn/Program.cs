// Trains the sample CNN on Fashion-MNIST with the generated CPU SIMD code, prints per-epoch figures,
// saves a safetensors checkpoint, then folds its BatchNorms into the convs (SmallCnnDeploy) and reports
// the deploy model. Usage: dotnet run -c Release -- [--epochs N] [--batch N] [--lr X] [--seed N]
//   [--checkpoint PATH] [--data DIR] [--limit N] [--device cpu|gpu]
using Authoring.Samples;
using FashionCnn;

return SampleRunner.Run<SmallCnn, SmallCnnDeploy>(args, new SampleOptions(8, 128, 3e-3f, 1, "checkpoints/smallcnn.safetensors", null), m => m.ToDeploy(),
    (m, device, optimizer) => new SmallCnn.Gpu(device, m.Parameters) { Optimizer = optimizer });
