using BenchmarkDotNet.Running;
using Crm.Kit.Benchmarks;

// dotnet run -c Release --project benchmarks/Crm.Kit.Benchmarks -- --filter '*GetById*'   (any BenchmarkDotNet arguments)
// dotnet run -c Release --project benchmarks/Crm.Kit.Benchmarks -- memory [customers]     (retained bytes per customer)
// dotnet run -c Release --project benchmarks/Crm.Kit.Benchmarks -- earn-by-size            (in-memory earn postings by ledger size)
if (args is ["memory", ..])
{
    return await MemoryFootprint.RunAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000);
}

if (args is ["earn-by-size"])
{
    return await EarnBySize.RunAsync();
}

// Every class declares a short job ([ShortRunJob], or its own), so anyone can re-check a figure in minutes;
// pass --job to choose another.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
