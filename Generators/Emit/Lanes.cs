// The lanes a fused element-wise expression is written for: Vector512, Vector256 or scalar floats on the CPU,
// scalar floats in ILGPU kernels. Op definitions write their expressions through these helpers, so one
// definition serves every width and both backends.
namespace Authoring.Generators.Emit;

internal sealed class Lanes
{
    public Lanes(string? vec, int width)
    {
        Vec = vec;
        Width = width;
    }

    /// <summary>Scalar floats (the CPU tail loop, and every ILGPU kernel).</summary>
    public static readonly Lanes Scalar = new(null, 1);

    public static readonly Lanes[] Cpu = { new("Vector512", 16), new("Vector256", 8), Scalar };

    /// <summary>The vector type's name (Vector512 / Vector256), null for scalars.</summary>
    public string? Vec { get; }
    public int Width { get; }
    public bool IsVector => Vec is not null;

    public string Load(string arr, string idx) => Vec is null ? $"{arr}[{idx}]" : $"global::System.Runtime.Intrinsics.{Vec}.LoadUnsafe(ref {arr}[{idx}])";

    public string Splat(string scalar) => Vec is null ? scalar : $"global::System.Runtime.Intrinsics.{Vec}.Create({scalar})";

    /// <summary>A float constant on these lanes.</summary>
    public string Const(float value) => Splat(EmitCommon.F(value));

    // Static form, not the extension method: the value may be an expression ('a * b'), and
    // generated code cannot count on the user's usings.
    public string Store(string value, string arr, string idx) => Vec is null ? $"{arr}[{idx}] = {value};" : $"global::System.Runtime.Intrinsics.{Vec}.StoreUnsafe({value}, ref {arr}[{idx}]);";

    /// <summary>exp of each lane.</summary>
    public string Exp(string x) => Vec is null ? $"global::System.MathF.Exp({x})" : $"global::System.Runtime.Intrinsics.{Vec}.Exp({x})";

    /// <summary>Per lane: <paramref name="whenPositive"/> where <paramref name="x"/> &gt; 0, else <paramref name="otherwise"/>.</summary>
    public string IfPositive(string x, string whenPositive, string otherwise) => Vec is null
        ? $"({x} > 0f ? {whenPositive} : {otherwise})"
        : $"global::System.Runtime.Intrinsics.{Vec}.ConditionalSelect(global::System.Runtime.Intrinsics.{Vec}.GreaterThan({x}, {Zero}), {whenPositive}, {otherwise})";

    public string Zero => Vec is null ? "0f" : $"global::System.Runtime.Intrinsics.{Vec}<float>.Zero";

    public string Sum(string v) => Vec is null ? v : $"global::System.Runtime.Intrinsics.{Vec}.Sum({v})";
}
