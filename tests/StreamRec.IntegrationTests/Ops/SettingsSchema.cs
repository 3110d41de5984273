using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace StreamRec.IntegrationTests.Ops;

/// <summary>
/// The configuration keys a service's options class binds, for checking deployment files against it.
/// Environment variables <c>STREAMREC_A__B</c> are the key <c>A:B</c>, bound case-insensitively from
/// the configuration root, as the worker and the reader do. Keys are walked through the options type
/// by reflection: nested classes by property, lists by index (<c>Topics__0</c>) and string-keyed
/// dictionaries by any name (<c>Kafka__Client__&lt;librdkafka property&gt;</c>).
/// </summary>
public sealed class SettingsSchema
{
    /// <summary>The prefix both services read environment variables with.</summary>
    public const string EnvironmentPrefix = "STREAMREC_";

    private readonly Type _optionsType;

    private SettingsSchema(string service, Type optionsType, int defaultHttpPort, TimeSpan? defaultShutdownTimeout)
    {
        Service = service;
        _optionsType = optionsType;
        DefaultHttpPort = defaultHttpPort;
        DefaultShutdownTimeout = defaultShutdownTimeout;
    }

    /// <summary>worker or reader.</summary>
    public string Service { get; }

    /// <summary>Where the keys come from.</summary>
    public string Source => $"reflection over {_optionsType.FullName}";

    /// <summary>The HttpPort the service listens on when none is set.</summary>
    public int DefaultHttpPort { get; }

    /// <summary>The ShutdownTimeout the service uses when none is set (null: the service has none).</summary>
    public TimeSpan? DefaultShutdownTimeout { get; }

    /// <summary>A schema from an options class: every bindable key, defaults read from a new instance.</summary>
    public static SettingsSchema FromOptionsType(string service, Type optionsType)
    {
        ArgumentNullException.ThrowIfNull(optionsType);
        var defaults = Activator.CreateInstance(optionsType)!;
        var port = (int)optionsType.GetProperty("HttpPort")!.GetValue(defaults)!;
        var shutdown = optionsType.GetProperty("ShutdownTimeout")?.GetValue(defaults) as TimeSpan?;
        return new SettingsSchema(service, optionsType, port, shutdown);
    }

    /// <summary>The configuration key of a <c>STREAMREC_</c> environment variable; null for any other variable.</summary>
    public static string? KeyOf(string environmentVariable)
    {
        ArgumentNullException.ThrowIfNull(environmentVariable);
        return environmentVariable.StartsWith(EnvironmentPrefix, StringComparison.Ordinal)
            ? environmentVariable[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal)
            : null;
    }

    /// <summary>Null when the service reads <paramref name="key"/> and <paramref name="value"/> converts to its type; else the problem.</summary>
    public string? Check(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var segments = key.Split(':');
        var type = _optionsType;
        for (var i = 0; i < segments.Length; i++)
        {
            type = Child(type, segments[i]);
            if (type is null)
            {
                return $"the {Service} has no setting '{string.Join(':', segments[..(i + 1)])}' ({Source})";
            }
        }

        if (!IsLeaf(type))
        {
            return $"'{key}' is a section of the {Service}'s options, not a value";
        }

        var target = Nullable.GetUnderlyingType(type) ?? type;
        try
        {
            _ = TypeDescriptor.GetConverter(target).ConvertFromInvariantString(value);
            return null;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException)
        {
            return $"'{key}' = '{value}' is not a {target.Name}";
        }
    }

    /// <summary>
    /// Binds <paramref name="settings"/> (configuration keys) onto a new options instance the way the host
    /// does and runs the options' own <c>Validate()</c>; the problems, or none.
    /// </summary>
    public IReadOnlyList<string> BindAndValidate(IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();
        var options = Activator.CreateInstance(_optionsType)!;
        try
        {
            configuration.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException ex)
        {
            return [$"binding the {Service}'s settings fails: {ex.Message}"];
        }

        var validate = _optionsType.GetMethod("Validate", BindingFlags.Public | BindingFlags.Instance, Type.EmptyTypes);
        return validate?.Invoke(options, null) is IEnumerable<string> errors ? [.. errors.Select(e => $"the {Service} refuses its settings: {e}")] : [];
    }

    private static Type? Child(Type type, string segment)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsLeaf(type))
        {
            return null;
        }

        if (DictionaryValueType(type) is { } valueType)
        {
            return valueType;
        }

        if (ElementType(type) is { } elementType)
        {
            return int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? elementType : null;
        }

        var property = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase) && p.GetIndexParameters().Length == 0);
        if (property is null)
        {
            return null;
        }

        // The binder sets properties with a public setter, and fills get-only collections and sections in place.
        var settable = property.SetMethod is { IsPublic: true };
        return settable || !IsLeaf(property.PropertyType) ? property.PropertyType : null;
    }

    private static bool IsLeaf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
            || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(Guid) || type == typeof(Uri)
            || type == typeof(DateOnly) || type == typeof(TimeOnly);
    }

    private static Type? DictionaryValueType(Type type) =>
        type.GetInterfaces().Append(type)
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>) && i.GetGenericArguments()[0] == typeof(string))
            .Select(i => i.GetGenericArguments()[1])
            .FirstOrDefault();

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        if (!typeof(IEnumerable).IsAssignableFrom(type))
        {
            return null;
        }

        return type.GetInterfaces().Append(type)
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            .Select(i => i.GetGenericArguments()[0])
            .FirstOrDefault();
    }
}
