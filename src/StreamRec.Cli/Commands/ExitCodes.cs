namespace StreamRec.Cli.Commands;

/// <summary>Exit codes shared by the data commands.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>Bad arguments or bad input; the message names the option or file:line.</summary>
    public const int BadInput = 2;

    /// <summary>The command ran but part of it failed (the output says which part and why).</summary>
    public const int Failed = 1;
}
