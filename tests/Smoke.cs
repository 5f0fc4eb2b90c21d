namespace Truss.Clip.Tests;
public class Smoke { [Test] public void Builds() => Assert.That(typeof(Smoke).Assembly, Is.Not.Null); }
