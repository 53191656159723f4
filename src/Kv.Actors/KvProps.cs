using Akka.Actor;

namespace Kv.Actors;

/// <summary>
/// Props from a factory delegate. Akka's <c>KvProps.Of(() => new X(a, b))</c> takes an
/// expression tree and compiles each constructor argument to evaluate it, at every call: ~1 ms of
/// CPU for a coordinator with a handful of arguments, which made it the largest cost of a request
/// (YCSB C on 3 local nodes: ~700 us of CPU per read). A delegate is called as it is, but later,
/// on the new actor's thread: take what it uses into locals first (never <c>Context</c>, <c>Self</c>
/// or <c>Sender</c> inside it, which would be the child's own).
/// </summary>
public static class KvProps
{
    public static Props Of<T>(Func<T> factory) where T : ActorBase => Props.CreateBy(new Producer<T>(factory));

    private sealed class Producer<T>(Func<T> factory) : IIndirectActorProducer where T : ActorBase
    {
        public Type ActorType => typeof(T);

        public ActorBase Produce() => factory();

        public void Release(ActorBase actor)
        {
        }
    }
}
