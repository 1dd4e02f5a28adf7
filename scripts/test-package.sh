#!/usr/bin/env bash
# Consumer test of the NuGet package, as a user meets it: packs the package from this checkout into a local
# folder feed, creates a project from scratch in a temporary folder (a PackageReference only, no project
# reference, nothing of this repository's build files), writes a small model with a hardware-unfriendly layer,
# builds it and requires an MDL analyzer warning in the build output (with warnings as errors on, which the
# package keeps MDL rules out of), trains a few steps (loss finite and falling), and runs the generated ILGPU
# twin (Model.Gpu on ILGPU's CPU accelerator) against the CPU backend.
#   scripts/test-package.sh            (scripts/test.sh runs it after the test projects)
# A stale package can never be used: the package gets a version of its own (base version + a unique suffix),
# restored into a private packages folder; the user's package folder is only read, as a fallback, for the
# registry packages (ILGPU...). Everything is removed afterwards unless KEEP=1.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS

base=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/Directory.Build.props" | head -n 1)
[[ -n "$base" ]] || { echo "test-package: no <Version> in Directory.Build.props" >&2; exit 1; }
version="$base-consumer.$(date -u +%Y%m%d%H%M%S).$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/authoring-consumer.XXXXXX")
[[ "${KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"' EXIT
echo "test-package: packing Authoring $version into $work/feed"

dotnet pack "$repo/pack/Authoring.Package.csproj" -c Release -o "$work/feed" -p:PackageVersion="$version" -v:q -nologo \
    > "$work/pack.log" 2>&1 || { cat "$work/pack.log"; echo "test-package: dotnet pack failed" >&2; exit 1; }
[[ -f "$work/feed/Authoring.$version.nupkg" ]] || { ls "$work/feed"; echo "test-package: no package produced" >&2; exit 1; }

app="$work/app"
mkdir -p "$app"
# Empty build files stop MSBuild from looking further up for any that may lie above the temporary folder.
for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do echo '<Project />' > "$app/$f"; done
fallback="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
# The local feed is added to the sources the machine already has (its normal registry); packages go to a
# private folder.
cat > "$app/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config>
    <add key="globalPackagesFolder" value="$work/packages" />
  </config>
  <packageSources>
    <add key="authoring-local" value="$work/feed" />
  </packageSources>
  <fallbackPackageFolders>
    <add key="user" value="$fallback" />
  </fallbackPackageFolders>
</configuration>
EOF
cat > "$app/Consumer.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Authoring" Version="$version" />
  </ItemGroup>
</Project>
EOF
cat > "$app/TinyNet.cs" <<'EOF'
using Authoring;
using static Authoring.Ops;

namespace Consumer;

[Model]
public partial class TinyNet
{
    readonly Conv2d stem = new(1, 30, kernel: 3, padding: 1, bias: false);   // 30 channels: MDL0001
    readonly BatchNorm2d bn = new(30);
    readonly Linear head = new(30, 4);

    Tensor Forward([Shape(1, 8, 8)] Tensor x) => head.Forward(GlobalAvgPool(Relu(bn.Forward(stem.Forward(x)))));
}
EOF
cat > "$app/Program.cs" <<'EOF'
// Trains TinyNet a few steps on synthetic data (class k: a bright 3x3 patch in quadrant k, plus noise), then
// runs the ILGPU twin on ILGPU's CPU accelerator and compares its logits with the CPU backend's.
using Authoring.Gpu;
using Authoring.Runtime.Optim;
using Consumer;

const int batch = 32, classes = 4, steps = 30;
var rng = new Random(7);
var images = new float[batch * 64];
var labels = new int[batch];
for (int i = 0; i < batch; i++)
{
    int k = labels[i] = i % classes;
    for (int p = 0; p < 64; p++) images[i * 64 + p] = 0.3f * (float)rng.NextDouble();
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            images[i * 64 + (k / 2 * 4 + r) * 8 + k % 2 * 4 + c] += 1f;
}

var model = new TinyNet();
model.Parameters.Initialize(seed: 1);
var optimizer = new AdamW(2e-2f);
var losses = new List<float>();
for (int s = 0; s < steps; s++)
{
    var r = model.TrainStep(images, labels, batch);
    optimizer.Step(model.Parameters);
    losses.Add(r.Loss);
}
Console.WriteLine($"loss: first {losses[0]:F4}, last {losses[^1]:F4}");
if (losses.Any(l => !float.IsFinite(l))) { Console.WriteLine("FAIL: a loss is not finite"); return 1; }
if (!(losses[^1] < 0.8f * losses[0])) { Console.WriteLine("FAIL: the loss did not fall by 20%"); return 1; }

const int n = 3;
var cpu = new float[n * classes];
var gpuOut = new float[n * classes];
model.Infer(images.AsSpan(0, n * 64), n, cpu);
using var device = new GpuDevice(AcceleratorChoice.Cpu);
using var gpu = new TinyNet.Gpu(device, model.Parameters);
gpu.Infer(images.AsSpan(0, n * 64), n, gpuOut);
// Same float32 graph, different summation order (kernels per output vs SIMD): relative 1e-4 of the logit scale.
float scale = Math.Max(1e-3f, cpu.Max(Math.Abs)), worst = 0;
for (int i = 0; i < cpu.Length; i++) worst = Math.Max(worst, Math.Abs(cpu[i] - gpuOut[i]));
Console.WriteLine($"ILGPU ({device.Accelerator.AcceleratorType}) vs CPU: largest logit difference {worst:G3} (scale {scale:G3})");
if (worst > 1e-4f * scale) { Console.WriteLine("FAIL: the ILGPU twin disagrees with the CPU backend"); return 1; }
Console.WriteLine("consumer OK");
return 0;
EOF

echo "test-package: building a consumer project from the package alone"
(cd "$app" && dotnet build -c Release -nologo > "$work/build.log" 2>&1) || { cat "$work/build.log"; echo "test-package: the consumer build failed" >&2; exit 1; }
grep -q "warning MDL0001" "$work/build.log" || { cat "$work/build.log"; echo "test-package: no MDL0001 analyzer warning in the build output" >&2; exit 1; }
grep -m 1 "warning MDL0001" "$work/build.log" | sed 's:^.*/\(TinyNet.cs\):  \1:'
# The package was restored from the local feed into the private folder, not from anywhere else.
[[ -d "$work/packages/authoring/$version" ]] || { echo "test-package: Authoring $version was not restored into the private packages folder" >&2; exit 1; }

echo "test-package: training and the ILGPU twin"
(cd "$app" && dotnet bin/Release/net10.0/Consumer.dll) | tee "$work/run.log"
grep -q "consumer OK" "$work/run.log" || { echo "test-package: the consumer run failed" >&2; exit 1; }
echo "test-package: passed in $((SECONDS - start)) s"
