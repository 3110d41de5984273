using System.Globalization;
using StreamRec.LoadTesting;

// seed <redis host:port> <model> <items> <dims> <users>
// load <base url> <requests per second> <seconds> <users> [path template with {user}]
return args.FirstOrDefault() switch
{
    "seed" when args.Length == 6 => await Seeder.RunAsync(args[1], args[2], Int(args[3]), Int(args[4]), Int(args[5])),
    "load" when args.Length is 5 or 6 => await FixedRateLoad.RunAsync(new Uri(args[1]), Int(args[2]), Int(args[3]), Int(args[4]),
        args.Length == 6 ? args[5] : "v1/users/{user}/recommendations?k=10"),
    _ => Usage(),
};

static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

static int Usage()
{
    Console.Error.WriteLine("usage: seed <redis host:port> <model> <items> <dims> <users>");
    Console.Error.WriteLine("       load <base url> <requests per second> <seconds> <users> [path template with {user}]");
    return 2;
}
