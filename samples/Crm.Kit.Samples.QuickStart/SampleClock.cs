/// <summary>A clock the sample moves by hand, to show due times, breaches and decay without waiting.</summary>
internal sealed class SampleClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
