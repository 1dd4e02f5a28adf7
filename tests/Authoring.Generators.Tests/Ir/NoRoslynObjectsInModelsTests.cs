// The pipeline's cached values (ModelIr from Parse, EmitOutput from Emit) must hold plain values only:
// a symbol, syntax node, compilation or location inside one keeps a whole compilation alive and breaks
// caching (both the Regex and ComputeSharp generators had to undo this). Walks the types by reflection.
using System.Reflection;
using Authoring.Generators.Emit;
using Authoring.Generators.Helpers;
using Authoring.Generators.Ir;
using Authoring.Generators.Ops;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Authoring.Generators.Tests.Ir;

public class NoRoslynObjectsInModelsTests
{
    static readonly Type[] Forbidden =
    {
        typeof(ISymbol), typeof(SyntaxNode), typeof(Compilation), typeof(SemanticModel), typeof(Location), typeof(IOperation),
        // Also tied to a tree or a compilation.
        typeof(SyntaxTree), typeof(SyntaxToken), typeof(SyntaxTrivia), typeof(SyntaxReference), typeof(AttributeData), typeof(TypedConstant),
    };

    /// <summary>Every path from <paramref name="root"/> to a member whose type is or derives from a forbidden type.</summary>
    static List<string> Violations(Type root) => Violations(root, out _);

    static List<string> Violations(Type root, out HashSet<Type> seen)
    {
        var found = new List<string>();
        var visited = seen = new HashSet<Type>();
        void Visit(Type type, string path)
        {
            if (Forbidden.Any(f => f.IsAssignableFrom(type)))
            {
                found.Add($"{path}: {type.FullName}");
                return;
            }
            if (type == typeof(object) || (type.IsInterface && !type.IsGenericType))
            {
                // Could hold anything, a symbol included: only plain value types belong in a model.
                found.Add($"{path}: untyped ({type.Name})");
                return;
            }
            if (!visited.Add(type)) return;
            if (type.IsArray)
            {
                Visit(type.GetElementType()!, path + "[]");
                return;
            }
            foreach (var arg in type.GetGenericArguments()) Visit(arg, $"{path}<{arg.Name}>");
            // Framework and Roslyn value types (string, TextSpan, Type) are leaves; our own types are walked.
            if (IsLeaf(type)) return;
            const BindingFlags all = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
            for (var t = type; t is not null && !IsLeaf(t); t = t.BaseType)
            {
                foreach (var f in t.GetFields(all).Where(f => !f.IsLiteral)) Visit(f.FieldType, $"{path}.{f.Name}");
                foreach (var p in t.GetProperties(all).Where(p => p.GetIndexParameters().Length == 0)) Visit(p.PropertyType, $"{path}.{p.Name}");
            }
        }
        Visit(root, root.Name);
        return found;
    }

    static bool IsLeaf(Type t)
    {
        string name = t.Assembly.GetName().Name ?? "";
        return name.StartsWith("System", StringComparison.Ordinal) || name.StartsWith("Microsoft", StringComparison.Ordinal)
            || name is "mscorlib" or "netstandard";
    }

    [Theory]
    [InlineData(typeof(ModelIr))]
    [InlineData(typeof(EmitOutput))]
    public void CachedPipelineValuesHoldNoRoslynObjects(Type root)
    {
        var violations = Violations(root, out var seen);
        Assert.True(violations.Count == 0, "Roslyn objects reachable from a cached model:\n" + string.Join("\n", violations));
        // The walk reached the leaves that matter (diagnostics and their locations are in both models).
        Assert.Contains(typeof(Authoring.Generators.Diagnostics.DiagnosticInfo), seen);
        Assert.Contains(typeof(Authoring.Generators.Diagnostics.LocationInfo), seen);
        if (root == typeof(ModelIr)) Assert.Contains(typeof(Node), seen);
    }

    [Fact]
    public void WalkSeesThroughEquatableArrays()
    {
        // Guards the walk itself, which must see through EquatableArray<T> (as ModelIr -> Node -> LocationInfo).
        var violations = Violations(typeof(Bad));
        Assert.Contains(violations, v => v.EndsWith(": Microsoft.CodeAnalysis.Location", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.EndsWith(": Microsoft.CodeAnalysis.ITypeSymbol", StringComparison.Ordinal));
        Assert.Empty(Violations(typeof(Good)));
    }

    internal sealed record Holder(Location? Location, ITypeSymbol? Symbol);

    internal sealed record Bad(EquatableArray<Holder> Items);

    internal sealed record Good(EquatableArray<string> Names, Microsoft.CodeAnalysis.Text.TextSpan Span);
}
