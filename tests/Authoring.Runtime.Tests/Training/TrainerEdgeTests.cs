// Trainer behaviour at the edges: a last batch of one sample is skipped (BatchNorm has no statistics
// for it), and image data must match the model's (C, H, W), not only its size.
using Authoring.Runtime.Data;
using Authoring.Runtime.Optim;
using Authoring.Runtime.Training;

namespace Authoring.Runtime.Tests.Training;

public class TrainerEdgeTests
{
    sealed class RecordingModel(IModel inner) : IModel
    {
        public List<int> Batches { get; } = [];
        public string Name => inner.Name;
        public IReadOnlyList<int> InputShape => inner.InputShape;
        public int InputSize => inner.InputSize;
        public int OutputSize => inner.OutputSize;
        public ParameterStore Parameters => inner.Parameters;
        public ulong TrainSteps { get => inner.TrainSteps; set => inner.TrainSteps = value; }
        public void Infer(ReadOnlySpan<float> input, int batch, Span<float> output) => inner.Infer(input, batch, output);

        public StepResult TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, int batch)
        {
            Batches.Add(batch);
            return inner.TrainStep(input, labels, batch);
        }
    }

    static LabeledImages Data(int n) => new(new float[n * 8], Enumerable.Range(0, n).Select(i => i % 2).ToArray(), 1, 2, 4, 2);

    [Fact]
    public void ALastBatchOfOneSampleIsSkipped()
    {
        var model = new RecordingModel(new SoftmaxRegression([1, 2, 4], 2, 2));
        new Trainer(model, new Sgd(0.1f), new TrainerOptions { Epochs = 1, BatchSize = 2, Progress = ProgressMode.None, Log = TextWriter.Null })
            .Fit(Data(5));
        Assert.Equal([2, 2], model.Batches);
    }

    [Fact]
    public void ImagesOfTheSameSizeButAnotherShapeAreRejected()
    {
        var model = new SoftmaxRegression([1, 4, 2], 2, 2);
        var trainer = new Trainer(model, new Sgd(0.1f), new TrainerOptions { Epochs = 1, BatchSize = 2, Progress = ProgressMode.None, Log = TextWriter.Null });
        var ex = Assert.Throws<ArgumentException>(() => trainer.Fit(Data(4)));
        Assert.Contains("(1, 2, 4)", ex.Message);
    }
}
