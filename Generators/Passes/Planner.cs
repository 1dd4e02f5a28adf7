// Lowers a ModelIr to the two programs a backend emits (inference and a training step), running the passes
// in order: fusion, lowering (op definitions), autodiff (training only), arena planning.
using System.Collections.Generic;
using Authoring.Generators.Ir;

namespace Authoring.Generators.Passes;

internal static class Planner
{
    /// <param name="trainEpilogues">Fuse BatchNorm statistics and affine into training convs (the CPU kernels take
    /// them; the ILGPU kernels do not, so the GPU backend gets a plan of its own without).</param>
    public static Plan Build(ModelIr model, bool trainEpilogues = true)
    {
        model = StaticTime.Rewrite(model);
        var graph = new Graph(model);
        var groups = new List<EltGroup>();
        var state = new StateAllocator();
        var infer = BuildProgram(graph, train: false, trainEpilogues, groups, state);
        var train = BuildProgram(graph, train: true, trainEpilogues, groups, state);
        return new Plan(model, infer, train, state.Size, groups);
    }

    static Program BuildProgram(Graph graph, bool train, bool trainEpilogues, List<EltGroup> groups, StateAllocator state)
    {
        var fusion = Fusion.Run(graph, train, trainEpilogues, groups);
        var storage = new Storage(graph, fusion, train);
        new Lowering(graph, fusion, storage, train, state).Run();
        if (train) new Autodiff(graph, fusion, storage, state).Run();
        Arena.Allocate(storage.Program);
        return storage.Program;
    }
}
