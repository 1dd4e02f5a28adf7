// Runs the passes on a parsed model and emits both backends. Never throws: a failure becomes AUT0099.
using System;
using System.Collections.Generic;
using System.Threading;
using Authoring.Generators.Diagnostics;
using Authoring.Generators.Emit.Cpu;
using Authoring.Generators.Emit.Gpu;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Passes;

namespace Authoring.Generators.Emit;

internal static class ModelEmitter
{
    public static EmitOutput Emit(ModelIr model, bool hasGpu, CancellationToken ct)
    {
        if (!model.IsValid) return Stub(model, model.Diagnostics, hasGpu);
        try
        {
            var plan = Planner.Build(model);
            ct.ThrowIfCancellationRequested();
            var files = new List<GeneratedFile> { new(FileName(model, "g"), CpuEmitter.Emit(plan)) };
            if (hasGpu)
            {
                files.Add(new GeneratedFile(FileName(model, "Gpu.g"), GpuEmitter.Emit(Planner.Build(model, trainEpilogues: false))));
                files.Add(new GeneratedFile(FileName(model, "GpuAccess.g"), GpuEmitter.AccessFile));
            }
            // The deployment twin: its own plan and kernels, plus ToDeploy on the training model.
            var deploy = Deploy.Rewrite(model);
            if (deploy is not null)
            {
                ct.ThrowIfCancellationRequested();
                var deployPlan = Planner.Build(deploy.Ir);
                files.Add(new GeneratedFile(FileName(deploy.Ir, "g"), CpuEmitter.Emit(deployPlan)));
                files.Add(new GeneratedFile(FileName(model, "ToDeploy.g"), DeployEmitter.Emit(model, deploy)));
                if (hasGpu) files.Add(new GeneratedFile(FileName(deploy.Ir, "Gpu.g"), GpuEmitter.Emit(Planner.Build(deploy.Ir, trainEpilogues: false))));
            }
            files.Add(new GeneratedFile(FileName(model, "Onnx.g"), OnnxEmitter.Emit(model, deploy)));
            return new EmitOutput(files.ToEquatableArray(), EquatableArray<DiagnosticInfo>.Empty);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            var loc = model.Nodes.Count > 0 ? model.Nodes[0].Location : null;
            return Stub(model,
                new[] { DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, loc, ex.GetType().Name + ": " + ex.Message) }.ToEquatableArray(), hasGpu);
        }
    }

    /// <summary>A model that cannot be compiled: its diagnostics, and stub members so that code using it compiles
    /// (none when its class cannot take members: not partial, nested, generic, static or abstract).</summary>
    static EmitOutput Stub(ModelIr model, EquatableArray<DiagnosticInfo> diagnostics, bool hasGpu)
    {
        if (!model.Stubbable) return new EmitOutput(EquatableArray<GeneratedFile>.Empty, diagnostics);
        var file = new GeneratedFile(FileName(model, "g"), StubEmitter.Emit(model, StubEmitter.Reason(model, diagnostics), hasGpu));
        return new EmitOutput(new[] { file }.ToEquatableArray(), diagnostics);
    }

    static string FileName(ModelIr m, string suffix) =>
        (m.Namespace.Length > 0 ? m.Namespace + "." : "") + m.ClassName + "." + suffix + ".cs";
}
