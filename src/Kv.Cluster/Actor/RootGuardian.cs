namespace Kv.Cluster.Actor;

/// <summary>
/// The root of the tree. Stops the system guardian once the user guardian has stopped, then
/// itself; its stop completes the system's termination.
/// </summary>
internal sealed class RootGuardian : ActorBase
{
    private IActorRef? _user;
    private IActorRef? _system;

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case Terminated t when t.ActorRef.Equals(_user):
                Context.Stop(_system!);
                return true;
            case Terminated t when t.ActorRef.Equals(_system):
                Context.Stop(Self);
                return true;
            case WatchGuardians:
                _user = Context.Watch(Context.Child("user")!);
                _system = Context.Watch(Context.Child("system")!);
                return true;
            default:
                return false;
        }
    }

    protected override SupervisorStrategy SupervisorStrategy() => StoppingStrategy;

    private static readonly SupervisorStrategy StoppingStrategy = new OneForOneStrategy(static _ => Directive.Stop);

    internal sealed class WatchGuardians
    {
        public static readonly WatchGuardians Instance = new();
    }
}
