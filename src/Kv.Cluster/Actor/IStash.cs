namespace Kv.Cluster.Actor;

/// <summary>Set messages aside and take them back later, in order, ahead of the mailbox.</summary>
public interface IStash
{
    /// <summary>Stashes the message being processed.</summary>
    void Stash();

    /// <summary>Puts the oldest stashed message back at the front of the mailbox.</summary>
    void Unstash();

    /// <summary>Puts all stashed messages back at the front of the mailbox, oldest first.</summary>
    void UnstashAll();

    /// <summary>Drops the stash.</summary>
    void ClearStash();

    /// <summary>Messages in the stash.</summary>
    int Count { get; }
}
