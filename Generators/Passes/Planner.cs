// Lowers a ModelIr to the two programs a backend emits (inference and a training step), running the passes
// in order: fusion, lowering (op definitions), autodiff (training only), arena planning.
using System.Collections.Generic;
using Authoring.Generators.Ir;

namespace Authoring.Generators.Passes;

internal static class Planner
{
    public static Plan Build(ModelIr model)
    {
        model = StaticTime.Rewrite(model);
        var graph = new Graph(model);
        var groups = new List<EltGroup>();
        var state = new StateAllocator();
        var infer = BuildProgram(graph, train: false, groups, state);
        var train = BuildProgram(graph, train: true, groups, state);
        return new Plan(model, infer, train, state.Size, groups);
    }

    static Program BuildProgram(Graph graph, bool train, List<EltGroup> groups, StateAllocator state)
    {
        var fusion = Fusion.Run(graph, train, groups);
        var storage = new Storage(graph, fusion, train);
        new Lowering(graph, fusion, storage, train, state).Run();
        if (train) new Autodiff(graph, fusion, storage, state).Run();
        Arena.Allocate(storage.Program);
        return storage.Program;
    }
}
