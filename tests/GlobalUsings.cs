global using NUnit.Framework;

// Integration tests each start their own server on a free port, so fixtures can run side by side.
[assembly: Parallelizable(ParallelScope.Fixtures)]
[assembly: LevelOfParallelism(4)]
